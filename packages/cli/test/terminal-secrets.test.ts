/**
 * Secrets and terminals (docs/spec.md §10 Security), performed as the attacker would: text
 * with ESC sequences, bell and bidirectional overrides in an `x-agent-id` on the dead-letter
 * subject and in a lease record's node id on a real nats-server, then read back with
 * `backbeat dlq`, `status` and `watch`; a justification with a line break in a pretty log; a
 * password in a `--nats` URL; secrets read from files and the environment.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import {
  dlqStreamConfig,
  encodeJson,
  openLeaseBucket,
  openStateBucket,
  STATE_KEYS,
  subjects,
} from '@backbeat/transport';
import type { ClusterStatus } from '../src/cluster-status.js';
import { renderStatus } from '../src/commands/status.js';
import { logSink, prettyLine } from '../src/logger.js';
import { adminTokenOf, readSecret } from '../src/secrets.js';
import { terminalSafe } from '../src/terminal.js';
import { runInProcess } from './in-process.js';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const enc = new TextEncoder();
/** Clears the screen, sets the window title, rings the bell, and reverses the text after it. */
const HOSTILE = 'agent:x\u001b[2J\u001b]0;owned\u0007\u202egnp.exe';
/** Control characters a terminal would act on (C0 but none, DEL, C1) and bidi overrides. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const nats = useNatsFixture();
const dir = mkdtempSync(join(tmpdir(), 'backbeat-secrets-'));

beforeAll(async () => {
  await openStateBucket(nats.bus, 'term');
  // A lease record as a hostile writer would leave it (only the pulse login may write it).
  const lease = await openLeaseBucket(nats.bus, 'term', { ttlMs: 60_000 });
  await lease.put(STATE_KEYS.leader, encodeJson({ node_id: HOSTILE, term: 7, acquired_at: new Date().toISOString() }));
  await nats.bus.ensureStream(dlqStreamConfig('term'));
  // Any login that can publish a claim can put these headers on a message reverb refuses.
  await nats.bus.publishDurable(subjects('term').dlq, enc.encode('{"agent_id":"a"}'), {
    headers: { 'x-reason': `forged\u001b[31m`, 'x-error': 'bad \u0008\u0008\u0008ok', 'x-agent-id': HOSTILE },
  });
});

describe('terminals - outside text is shown as escapes', () => {
  it('dlq - an x-agent-id with ESC, bell and a bidi override prints as escapes, one line per letter', async () => {
    const r = await runInProcess(['dlq', '--cluster', 'term', '--nats', nats.url]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(RAW_CONTROL);
    expect(lines[0]).toContain('agent:x\\x1b[2J\\x1b]0;owned\\x07\\u202egnp.exe');
    expect(lines[0]).toContain('forged\\x1b[31m');
    expect(lines[0]).toContain('bad \\x08\\x08\\x08ok');
  });

  it('status - a node id with ESC sequences in the lease prints as escapes', async () => {
    const r = await runInProcess(['status', '--cluster', 'term', '--nats', nats.url]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(RAW_CONTROL);
    expect(r.out).toContain('leader   agent:x\\x1b[2J');
  });

  it('status - a justification with line breaks stays on its line', () => {
    const s: ClusterStatus = {
      cluster_id: 'c',
      read_at: new Date(0).toISOString(),
      leader: null,
      tempo: {
        bpm: 12,
        bar_length: 8,
        pending: { tempo_bpm: 13, requested_by: 'p', justification: 'load\nleader   attacker, term 99\u001b[0m' },
      },
      pulse_nodes: [],
      reverb_replicas: [],
      servers: [],
      stores: [],
    };
    const out = renderStatus(s, 0);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).toContain('"load\\nleader   attacker, term 99\\x1b[0m"');
    expect(out.split('\n').filter((l) => l.startsWith('  leader'))).toHaveLength(1);
  });

  it('watch - a leader node id with ESC sequences prints as escapes', async () => {
    const w = ManagedProcess.node(bin, ['watch', '--cluster', 'term', '--nats', nats.url]);
    try {
      await w.waitForOutput(/-- leader .*term 7/, 20_000);
    } finally {
      await w.stop();
    }
    const line = w.stdout.split('\n').find((l) => l.startsWith('-- leader'))!;
    expect(line).toBe('-- leader agent:x\\x1b[2J\\x1b]0;owned\\x07\\u202egnp.exe, term 7');
    expect(w.stdout).not.toMatch(RAW_CONTROL);
  });

  it('pretty logs - a justification with a line break and ESC is one line, shown as escapes', () => {
    const rec = JSON.stringify({
      time: 0,
      level: 30,
      msg: 'tempo change\n00:00:00.000 INFO  forged',
      justification: 'x\u001b[2Jy\r\nz',
    });
    const line = prettyLine(rec);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toMatch(RAW_CONTROL);
    expect(line).toContain('tempo change\\n00:00:00.000 INFO  forged');
    expect(line).toContain('justification=x\\x1b[2Jy\\r\\nz');
    expect(terminalSafe('plain ascii, émigré ✓')).toBe('plain ascii, émigré ✓');
  });
});

describe('secrets - never in a log line or an error, and readable from files and the environment', () => {
  it('secrets - a password in --nats is masked in the error line', async () => {
    const r = await runInProcess(['status', '--cluster', 'term', '--nats', 'nats://alice:hunter2@127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).not.toContain('hunter2');
    expect(r.err).toContain('nats://alice:***@127.0.0.1:1');
  });

  it('secrets - a password in --nats is masked in every log line of a running pulse', async () => {
    // nats-server without authorization accepts any user and password.
    const url = nats.url.replace('nats://', 'nats://bob:hunter2@');
    const p = ManagedProcess.node(
      bin,
      ['pulse', '--cluster', 'logs', '--nats', url, '--admin-port', '0', '--emitter', 'inline'],
      { env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' } },
    );
    try {
      await p.waitForOutput(/admin API listening/, 20_000);
    } finally {
      await p.stop();
    }
    expect(p.stdout + p.stderr).not.toContain('hunter2');
    expect(p.stdout).toContain('bob:***@');
  });

  it('secrets - the log sink masks a URL password in JSON and pretty lines alike', () => {
    for (const pretty of [false, true]) {
      let out = '';
      const sink = logSink((l) => (out += l), pretty);
      sink.write(`${JSON.stringify({ time: 0, level: 50, msg: 'cannot reach nats://u:pw@h:4222' })}\n`);
      expect(out).toContain('nats://u:***@h:4222');
      expect(out).not.toContain(':pw@');
    }
  });

  it('secrets - a flag wins over its file, a file over the environment; both flag and file is refused', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file-token\n');
    const src = { flag: '--admin-token', fileFlag: '--admin-token-file', env: 'BACKBEAT_ADMIN_TOKEN' };
    expect(readSecret({ ...src, value: 'flag', file: undefined }, {})).toBe('flag');
    expect(readSecret({ ...src, value: undefined, file }, { BACKBEAT_ADMIN_TOKEN: 'env' })).toBe('from-file-token');
    expect(readSecret({ ...src, value: undefined, file: undefined }, { BACKBEAT_ADMIN_TOKEN: 'env' })).toBe('env');
    expect(readSecret({ ...src, value: undefined, file: undefined }, { BACKBEAT_ADMIN_TOKEN_FILE: file })).toBe(
      'from-file-token',
    );
    expect(readSecret({ ...src, value: undefined, file: undefined }, {})).toBeUndefined();
    expect(() => readSecret({ ...src, value: 'flag', file }, {})).toThrow(
      '--admin-token-file: give --admin-token or --admin-token-file, not both',
    );
    expect(() => readSecret({ ...src, value: undefined, file: join(dir, 'missing') }, {})).toThrow(
      /--admin-token-file: cannot read .*missing: ENOENT/,
    );
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => readSecret({ ...src, value: undefined, file: join(dir, 'empty') }, {})).toThrow(
      /--admin-token-file: .*empty is empty/,
    );
    expect(() => adminTokenOf({ adminToken: 'has space' }, {})).toThrow(
      '--admin-token: must be printable ASCII without spaces',
    );
  });

  it('secrets - --nats-pass-file is refused in one line naming the flag when unreadable', async () => {
    const r = await runInProcess([
      'status',
      '--cluster',
      'term',
      '--nats',
      nats.url,
      '--nats-user',
      'u',
      '--nats-pass-file',
      join(dir, 'nope'),
    ]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^backbeat: --nats-pass-file: cannot read .*nope: ENOENT$/);
  });
});
