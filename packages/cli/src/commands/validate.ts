import type { Command } from 'commander';
import { runValidateCli } from '@backbeat/contracts';

/**
 * `backbeat validate ...`: the same program as `backbeat-validate`, with the integration
 * guide's flags (--schemas, --dir, --file, --message, --json, --exit-code).
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate BACKBEAT messages against the contracts (same flags as backbeat-validate)')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await runValidateCli(args);
    });
}
