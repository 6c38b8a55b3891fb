/**
 * The fast unit tier (`npm run test:unit`): every test file that needs no server, child process
 * or browser, found by reading the files (and the local helpers they import) for the harness
 * parts that start one. A setup file makes any child process fail the test that starts it, so a
 * file put in this tier by mistake fails here instead of slowing it down. `npm test` still runs
 * everything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

const root = dirname(fileURLToPath(import.meta.url));

/** What starts a server, a process or a browser in a test. */
const NEEDS_PROCESS = new RegExp(
  `\\b(${[
    'NatsServer',
    'NatsFixture',
    'NatsCluster',
    'NetCluster',
    'ManagedProcess',
    'startRolesServer',
    'useNatsFixture',
    'legacyNatsServerBinary',
    'chromium',
    'playwright',
    'spawnSync',
    'spawn',
    'fork',
    'execFile',
    'execSync',
  ].join('|')})\\b`,
);

/** True when the file or a local module it imports (transitively) starts something. */
function needsProcess(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  if (NEEDS_PROCESS.test(text)) return true;
  for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
    const spec = m[1]!.replace(/\.js$/, '.ts');
    if (needsProcess(resolve(dirname(file), spec), seen)) return true;
  }
  return false;
}

const unitFiles = readdirSync(join(root, 'packages'))
  .flatMap((pkg) => {
    const dir = join(root, 'packages', pkg, 'test');
    try {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.test.ts'))
        .map((f) => join(dir, f));
    } catch {
      return [];
    }
  })
  .filter((f) => !needsProcess(f))
  .map((f) => f.slice(root.length + 1));

export default mergeConfig(
  { ...base, test: { ...base.test, projects: undefined } },
  defineConfig({
    test: {
      include: unitFiles,
      globalSetup: [],
      setupFiles: ['./vitest.unit.setup.ts'],
      pool: 'threads',
      maxWorkers: 2,
    },
  }),
);
