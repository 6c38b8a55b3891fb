import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import { runInProcess } from './in-process.js';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
let dev: ManagedProcess;
let url: string;
const auth = { authorization: 'Bearer t0ken', 'content-type': 'application/json' };

beforeAll(async () => {
  // The token from a file named by the environment, as a deployment passes it (not on argv).
  const file = join(mkdtempSync(join(tmpdir(), 'backbeat-dev-auth-')), 'admin-token');
  writeFileSync(file, 't0ken\n');
  dev = ManagedProcess.node(bin, ['dev', '--port', '0', '--agents', '1', '--pulse-nodes', '2'], {
    env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '', BACKBEAT_ADMIN_TOKEN_FILE: file },
  });
  url = (await dev.waitForOutput(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/, 40_000))[1]!;
}, 60_000);
afterAll(async () => {
  await dev?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(new URL(path, url), { method: 'POST', headers, body: JSON.stringify(body) });

/** A JSON answer body, for reading fields in assertions. */
const json = (r: Response) => r.json() as Promise<Record<string, any>>;
describe('backbeat dev - admin auth (docs/spec.md §10 Security)', () => {
  it('dev - POST /api/v1/tempo is 401 without the token, 401 with a wrong one, 202 with it', async () => {
    const none = await post('/api/v1/tempo', { tempo_bpm: 62 });
    expect(none.status).toBe(401);
    expect((await json(none)).error).toBe('BB_ERR_UNAUTHORIZED');
    expect((await post('/api/v1/tempo', { tempo_bpm: 62 }, { ...auth, authorization: 'Bearer nope' })).status).toBe(
      401,
    );
    const ok = await post('/api/v1/tempo', { tempo_bpm: 62, justification: 'test' }, auth);
    expect(ok.status).toBe(202);
    expect((await json(ok)).pending.tempo_bpm).toBe(62);
  });

  it('dev - a bad tempo body is 400 naming the field, once authorized', async () => {
    const r = await post('/api/v1/tempo', { tempo_bpm: 'fast' }, auth);
    expect(r.status).toBe(400);
    expect((await json(r)).message).toMatch(/tempo_bpm must be a number/);
  });

  it('dev - POST /api/v1/dev/failover is 401 without the token and hands the lead over with it', async () => {
    expect((await post('/api/v1/dev/failover', {})).status).toBe(401);
    const before = await waitFor(
      async () => ((await json(await fetch(new URL('/api/v1/dashboard', url)))).cluster?.leader ? true : null),
      { timeoutMs: 10_000, message: 'a leader' },
    );
    expect(before).toBe(true);
    const r = await post('/api/v1/dev/failover', {}, auth);
    expect(r.status).toBe(200);
    const j = await json(r);
    expect(j.new_leader).not.toBeNull();
    expect(j.new_leader).not.toBe(j.stopped);
  });
});

// A flag check only: in-process (./in-process.ts; cli.test shows a flag error end to end in a
// process). The flag is checked before anything starts.
describe('backbeat dev - loopback only without a token', () => {
  it.for(['0.0.0.0', '192.0.2.7'])(
    'dev - --host %s without --admin-token is refused in one line, exit 2',
    async (host) => {
      const { code, err } = await runInProcess(['dev', '--port', '0', '--host', host]);
      expect(code).toBe(2);
      expect(err.trim()).toBe(
        'backbeat: --host: without --admin-token the dev server listens on ' +
          `loopback only (127.0.0.1 or ::1), got '${host}'`,
      );
    },
  );
});
