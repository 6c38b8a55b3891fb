/**
 * The `backbeat` command. `main` only parses flags and hands each subcommand to its module in
 * ./commands; services are built by their packages. A user mistake prints one line and exits
 * with code 2; it never prints a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { registerAgentAndWatch } from './commands/agent.js';
import { registerCluster } from './commands/cluster.js';
import { registerDev } from './commands/dev.js';
import { registerDlq } from './commands/dlq.js';
import { registerPulse } from './commands/pulse.js';
import { registerReverb } from './commands/reverb.js';
import { registerStatus } from './commands/status.js';
import { registerTempo } from './commands/tempo.js';
import { registerValidate } from './commands/validate.js';
import { BackbeatError } from '@backbeat/core';
import { UsageError } from './errors.js';

/** Builds the command tree (exported for tests and for `--help` docs generation). */
export function buildProgram(): Command {
  const program = new Command('backbeat')
    .description('BACKBEAT: one shared musical clock for a distributed fleet')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDev(program);
  registerValidate(program);
  registerPulse(program);
  registerReverb(program);
  registerCluster(program);
  registerAgentAndWatch(program);
  registerStatus(program);
  registerTempo(program);
  registerDlq(program);
  return program;
}

const VERSION = '0.1.0';

/**
 * Runs the CLI. Sets process.exitCode rather than calling process.exit, so long-running
 * subcommands can drain on SIGINT/SIGTERM before Node exits by itself.
 */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    // A command that failed has closed what it opened; should a handle linger anyway, the
    // process still ends within a second (fail fast), with the code set above.
    if (process.exitCode !== 0) setTimeout(() => process.exit(), 500).unref();
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end through exitOverride with exit code 0; commander already printed.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`backbeat: ${err.message}\n`);
    return 2;
  }
  if (err instanceof BackbeatError) {
    // StartupError, NatsUnreachableError, ClusterNotFoundError, CommandFailedError: one sentence.
    process.stderr.write(`backbeat: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`backbeat: ${message}\n`);
  if (process.env.BACKBEAT_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}
