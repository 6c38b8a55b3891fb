/**
 * The unit tier's guard (vitest.unit.config.ts): a child process started by a unit test fails
 * that test, with the command it tried, instead of quietly making the tier slow.
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

const names = ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync'] as const;
for (const name of names) {
  (childProcess as unknown as Record<string, unknown>)[name] = (command: unknown) => {
    throw new Error(
      `a unit test started a child process (${name} ${String(command)}): it belongs in npm test, not npm run test:unit`,
    );
  };
}
syncBuiltinESMExports();
