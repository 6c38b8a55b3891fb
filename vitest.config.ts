import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['core', 'contracts', 'transport', 'testing', 'sdk', 'pulse', 'reverb', 'dashboard', 'cli'];

// Tests import workspace packages by name; point those names at the TypeScript sources so a
// test always runs the code beside it: `@backbeat/x` is packages/x/src/index.ts and a subpath
// `@backbeat/x/y` (`./internal`, `./vitest`) packages/x/src/y.ts. Spawned processes (CLI tests)
// run the built dist/, which `npm test` rebuilds first (pretest).
const alias = [
  ...packages.map((name) => ({
    find: new RegExp(`^@backbeat/${name}$`),
    replacement: fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
  })),
  {
    find: new RegExp(`^@backbeat/(${packages.join('|')})/([a-z-]+)$`),
    replacement: `${fileURLToPath(new URL('./packages/', import.meta.url))}$1/src/$2.ts`,
  },
];

/**
 * Files that must not share the CPU: wall-clock bounds of tens of milliseconds on real timers
 * (frame lateness, clock offset, tempo drift, consecutive grid slots), which a busy CPU breaks,
 * not the code; and the headless browser, which takes a core by itself. They run one at a time,
 * in their own group, with no other test file beside them. Everything else mostly waits (for
 * beats, leases, elections, processes) and may run side by side.
 */
const alone = [
  'packages/cli/test/watch-json.test.ts', // watch --json lateness_ms < 50
  'packages/sdk/test/client.test.ts', // local beats within tolerance + 30 ms
  'packages/sdk/test/trust.test.ts', // clock offset < 50 ms; grid slots consecutive
  'packages/pulse/test/admin.test.ts', // follower offset < 50 ms
  'packages/pulse/test/clock-skew.test.ts', // frames within [-1, 250) ms of their slot
  'packages/pulse/test/emitter-thread.test.ts', // lateness < 83 ms
  'packages/pulse/test/failover.test.ts', // frames < 100 ms late, failover gap bound
  'packages/reverb/test/reverb.test.ts', // rollup_ms < 250 (a quarter beat at 240 BPM)
  // 50,000 claims validated in < 1 s (typically 30 ms; 1043 ms beside two files at load ~10)
  'packages/contracts/test/validate.test.ts',
  'packages/cli/test/fresh-start.test.ts', // first frame within TTL + 1 s of four processes spawned at once
  'packages/pulse/test/stream-placement.test.ts', // no slot skipped or repeated across six step-downs (167 ms slots)
  'packages/pulse/test/partition.test.ts', // longest gap between frames <= TTL + 1 s across 10 s host cuts
  // chromium; its virtual-time screenshot timed out at 40 s beside two other files at load ~10
  'packages/cli/test/dashboard.browser.test.ts',
];

/**
 * Test files at once in the first group (`BACKBEAT_TEST_WORKERS`, default 3; 1 runs every file
 * one at a time, as before). Most of their time is waiting, not CPU. Measured on 2 cores shared
 * with other work: 3 workers 282 s and 262 s, both green; one at a time 374 s.
 */
const PARALLEL_WORKERS = workers(process.env.BACKBEAT_TEST_WORKERS);

/**
 * Whether every test file gets a fresh worker process (`BACKBEAT_TEST_ISOLATE=1`) or a worker
 * runs file after file (default). A fresh process re-imports every package for each file:
 * about 0.7 s of CPU for a small file, 2 s for one that loads pulse, reverb and the SDK.
 * Reusing the worker is safe here because no test file changes process-wide state (no
 * vi.mock, fake timers, env or exitCode changes: keep it so) and each stops what it started.
 * Measured at load 4-9 (other work on the machine): the 39 parallel files of cli, reverb,
 * testing, transport, contracts, core and dashboard 107 s wall, 108 s CPU isolated, 72 s and
 * 86 s reused; the alone group 114 s and 64 s isolated, 102 s and 55 s reused; all green.
 * Whole suite, reused workers, at load < 2 when started: 176 s and 178 s (66 files, 507 tests
 * green both times); the alone group about 90 s of it.
 */
const ISOLATE = process.env.BACKBEAT_TEST_ISOLATE === '1';

/** @throws Error for anything but an integer from 1 to 8 */
function workers(value: string | undefined): number {
  if (value === undefined || value === '') return 3;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 8)
    throw new Error(`BACKBEAT_TEST_WORKERS: must be an integer from 1 to 8, got '${value}'`);
  return n;
}

export default defineConfig({
  resolve: { alias },
  test: {
    globalSetup: ['./vitest.global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: alone,
          maxWorkers: PARALLEL_WORKERS,
          isolate: ISOLATE,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: alone,
          maxWorkers: 1,
          isolate: ISOLATE,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
