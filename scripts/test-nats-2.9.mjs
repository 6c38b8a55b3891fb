#!/usr/bin/env node
// @ts-check
// npm run test:nats-2.9: the single-server tests of the election, the SDK and reverb, and the
// fresh start (two pulses and two reverbs spawned at once), run once more against Debian's
// nats-server 2.9.10 (`apt-get install nats-server`, /usr/sbin/nats-server;
// BACKBEAT_LEGACY_NATS_SERVER picks another). On one server the compare-and-set bug of releases
// before 2.9.21 cannot strike, so BACKBEAT still runs there (with one warning line); this keeps it
// true. The lease bucket gets no limit markers on 2.9, so these tests also cover standbys that
// find an expired lease by polling. CI runs it after `npm test` (.ci/run).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The named subset: single-server tests only (a 2.9 cluster is refused by the version rule). */
export const LEGACY_SUBSET = [
  'packages/pulse/test/election.test.ts',
  'packages/pulse/test/terms.test.ts',
  'packages/pulse/test/stop.test.ts',
  'packages/sdk/test/claims.test.ts',
  'packages/sdk/test/client.test.ts',
  'packages/reverb/test/reverb.test.ts',
  'packages/reverb/test/crash.test.ts',
  'packages/reverb/test/catch-up.test.ts',
  'packages/reverb/test/report-broadcast.test.ts',
  'packages/cli/test/fresh-start.test.ts',
  'packages/transport/test/kv-concurrent-create-single.test.ts',
];

const binary = process.env.BACKBEAT_LEGACY_NATS_SERVER ?? '/usr/sbin/nats-server';
if (!existsSync(binary)) {
  console.error(
    `Debian's nats-server 2.9.10 is not installed at ${binary}: \`apt-get install ` +
      `nats-server\` (npm test installs it when run as root)`,
  );
  process.exit(1);
}
const r = spawnSync('npx', ['vitest', 'run', ...LEGACY_SUBSET], {
  stdio: 'inherit',
  env: { ...process.env, BACKBEAT_NATS_SERVER: binary },
});
process.exit(r.status ?? 1);
