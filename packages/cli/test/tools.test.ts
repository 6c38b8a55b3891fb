import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp, Pulse } from '@backbeat/pulse';
import { ManagedProcess, NatsCluster, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import type { ClusterStatus } from '../src/cluster-status.js';
import { renderStatus } from '../src/commands/status.js';
import { runInProcess } from './in-process.js';
import {
  dlqStreamConfig,
  NatsBus,
  openStateBucket,
  startPresence,
  statusStreamConfig,
  subjects,
} from '@backbeat/transport';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const enc = new TextEncoder();
const nats = useNatsFixture();
let pulse: Pulse;
let adminUrl: string;
let admin: ReturnType<typeof buildAdminApp>;
const presences: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  pulse = new Pulse({
    bus: nats.bus,
    clusterId: 'tools',
    nodeId: 'pulse-a',
    bpm: 60,
    barLength: 4,
    minBpm: 30,
    maxBpm: 120,
  });
  admin = buildAdminApp(pulse, { token: 's3cret' });
  await admin.listen({ host: '127.0.0.1', port: 0 });
  adminUrl = `http://127.0.0.1:${(admin.server.address() as { port: number }).port}`;
  await pulse.start();
  presences.push(
    await startPresence(nats.bus, 'tools', {
      kind: 'pulse',
      nodeId: 'pulse-a',
      host: 'h1',
      info: () => ({ role: 'leader', term: pulse.leaderStatus().term, last_renewal: new Date().toISOString() }),
    }),
    await startPresence(nats.bus, 'tools', {
      kind: 'pulse',
      nodeId: 'pulse-b',
      host: 'h2',
      info: () => ({ role: 'follower', term: pulse.leaderStatus().term }),
    }),
    await startPresence(nats.bus, 'tools', {
      kind: 'reverb',
      nodeId: 'r1',
      host: 'h3',
      info: () => ({
        http: 'http://127.0.0.1:8090',
        last_report_window: 'abcdef0123456789',
        last_report_at: new Date().toISOString(),
      }),
    }),
  );
});

afterAll(async () => {
  for (const p of presences) await p.stop();
  await pulse?.stop();
  await admin?.close();
});

// One-shot reads and refusals run in-process (./in-process.ts): a process each cost about 0.9 s
// of CPU. What needs the process stays one: `status` end to end, the refusals that must not
// hang, and `dlq --follow` until SIGINT.
async function run(args: string[], timeoutMs = 20_000): Promise<{ code: number | string; out: string; err: string }> {
  const p = ManagedProcess.node(bin, args, { env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' } });
  const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
  await p.stop();
  return { code, out: p.stdout, err: p.stderr };
}

describe('backbeat status - against nats-server', () => {
  it('status --json - leader and term from the lease, tempo, every node, servers and replicas', async () => {
    const s = await waitFor(
      async () => {
        const r = await runInProcess(['status', '--cluster', 'tools', '--nats', nats.url, '--json']);
        const j = r.code === 0 ? JSON.parse(r.out) : null;
        return j?.leader ? j : null;
      },
      { timeoutMs: 30_000, message: 'a status with a leader' },
    );
    expect(s.leader).toMatchObject({ node_id: 'pulse-a', term: pulse.leaderStatus().term });
    expect(s.tempo).toMatchObject({ bpm: 60, bar_length: 4, pending: null });
    expect(s.pulse_nodes.map((n: { node_id: string; role: string }) => [n.node_id, n.role])).toEqual([
      ['pulse-a', 'leader'],
      ['pulse-b', 'follower'],
    ]);
    expect(s.reverb_replicas.map((n: { node_id: string }) => n.node_id)).toEqual(['r1']);
    expect(s.servers).toHaveLength(1);
    expect(s.servers[0].connected).toBe(true);
    const stores = Object.fromEntries(
      s.stores.map((x: { name: string; replicas: number | null }) => [x.name, x.replicas]),
    );
    expect(stores).toMatchObject({ backbeat_tools_state: 1, backbeat_tools_lease: 1, backbeat_tools_presence: 1 });
  }, 60_000);

  it('status - the human form names the leader, each node and the pending change', async () => {
    const set = await runInProcess([
      'tempo',
      'set',
      '63',
      '--justification',
      'warm up',
      '--pulse',
      adminUrl,
      '--admin-token',
      's3cret',
    ]);
    expect(set.code, set.err).toBe(0);
    const r = await run(['status', '--cluster', 'tools', '--nats', nats.url]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/leader\s+pulse-a, term \d+, leading since/);
    // At 60 BPM and 4 beats a bar the change may already be in force when status reads it.
    expect(r.out).toMatch(/(pending\s+63 BPM .*"warm up"|tempo\s+63 BPM)/);
    expect(r.out).toMatch(/pulse-b\s+follower/);
    expect(r.out).toMatch(/r1\s+replica\s+http:\/\/127\.0\.0\.1:8090, last report abcdef012345/);
    expect(r.out).toMatch(/bucket backbeat_tools_lease\s+1 replica/);
  });

  it('status - a wrong --cluster or no NATS is one line and exit 1, without hanging', async () => {
    // Two independent processes: started together.
    const [wrong, none] = await Promise.all([
      run(['status', '--cluster', 'nosuch', '--nats', nats.url], 15_000),
      run(['status', '--cluster', 'tools', '--nats', 'nats://127.0.0.1:1'], 15_000),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.err.trim()).toMatch(
      /^backbeat: no cluster 'nosuch' on NATS at nats:\/\/127\.0\.0\.1:\d+: no pulse has run with --cluster nosuch/,
    );
    expect(wrong.err.trim().split('\n')).toHaveLength(1);
    expect(none.code).toBe(1);
    expect(none.err.trim()).toMatch(/^backbeat: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  }, 60_000);
});

describe('backbeat status - on a three-node NATS cluster', () => {
  it('status --json - every JetStream server, and the replicas, leader and copies of a replicated stream', async () => {
    const cluster = await NatsCluster.start(3);
    const cbus = await NatsBus.connect({ servers: cluster.urls });
    try {
      await openStateBucket(cbus, 'tri');
      const jsm = await cbus.jsm();
      await jsm.streams.add({
        name: statusStreamConfig('tri').name,
        subjects: [subjects('tri').status],
        num_replicas: 3,
      });
      const r = await runInProcess(['status', '--cluster', 'tri', '--nats', cluster.urls.join(','), '--json']);
      expect(r.code, r.err).toBe(0);
      const s = JSON.parse(r.out);
      expect(s.servers).toHaveLength(3);
      expect(s.servers.filter((v: { connected: boolean }) => v.connected)).toHaveLength(1);
      const stream = s.stores.find((x: { name: string }) => x.name === statusStreamConfig('tri').name);
      expect(stream.replicas).toBe(3);
      expect([stream.leader, ...stream.peers].sort()).toEqual(s.servers.map((v: { name: string }) => v.name).sort());
      expect(s.leader).toBeNull();
    } finally {
      await cbus.close();
      await cluster.stop();
    }
  }, 60_000);
});

describe('backbeat tempo - through a pulse admin API', () => {
  it('tempo get --json - the tempo in force and its limits', async () => {
    const r = await runInProcess(['tempo', 'get', '--pulse', adminUrl, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ min_bpm: 30, max_bpm: 120 });
  });

  it('tempo set - 401 without the token and 400 out of range are one line each, exit 1', async () => {
    // Three refusals, none of which changes anything: run together.
    const [noToken, far, nobody] = await Promise.all([
      runInProcess(['tempo', 'set', '61', '--pulse', adminUrl]),
      runInProcess(['tempo', 'set', '200', '--pulse', adminUrl, '--admin-token', 's3cret']),
      runInProcess(['tempo', 'get', '--pulse', 'http://127.0.0.1:1']),
    ]);
    expect(noToken.code).toBe(1);
    expect(noToken.err.trim()).toMatch(
      /^backbeat: the pulse at http:\/\/127\.0\.0\.1:\d+ refused the change: POST \/tempo needs 'Authorization: Bearer <admin token>'; pass --admin-token-file FILE/,
    );
    expect(far.code).toBe(1);
    expect(far.err.trim()).toMatch(/^backbeat: tempo change refused: /);
    expect(far.err.trim().split('\n')).toHaveLength(1);
    expect(nobody.code).toBe(1);
    expect(nobody.err.trim()).toMatch(/^backbeat: no pulse admin API answered at http:\/\/127\.0\.0\.1:1/);
  }, 60_000);
});

describe('backbeat dlq - dead letters with their reasons', () => {
  it('dlq --json - stored letters with time, reason, agent and a short payload; --follow prints new ones', async () => {
    await nats.bus.ensureStream(dlqStreamConfig('tools'));
    const claim = JSON.stringify({
      type: 'backbeat.statusclaim.v1',
      agent_id: 'agent:x1',
      beat_index: 3,
      state: 'executing',
      hlc: '0001:0000:0001',
      notes: 'n'.repeat(500),
    });
    await nats.bus.publishDurable(subjects('tools').dlq, enc.encode(claim), {
      headers: { 'x-reason': 'forged', 'x-error': 'signature does not verify', 'x-agent-id': 'agent:x1' },
    });
    await nats.bus.publishDurable(subjects('tools').dlq, enc.encode('{ not json'), {
      headers: { 'x-reason': 'malformed', 'x-error': 'not JSON' },
    });
    const r = await runInProcess(['dlq', '--cluster', 'tools', '--nats', nats.url, '--json']);
    expect(r.code, r.err).toBe(0);
    const letters = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters.map((d) => [d.reason, d.agent_id])).toEqual([
      ['forged', 'agent:x1'],
      ['malformed', null],
    ]);
    expect(letters[0].payload.length).toBeLessThanOrEqual(120);
    expect(letters[0].payload).toMatch(/^\{"type":"backbeat.statusclaim.v1"/);
    expect(Date.parse(letters[0].time)).toBeGreaterThan(Date.now() - 60_000);

    const f = ManagedProcess.node(bin, ['dlq', '--cluster', 'tools', '--nats', nats.url, '--follow', '--limit', '0']);
    try {
      await f.waitForOutput(/following backbeat\.tools\.dlq/);
      nats.bus.publish(subjects('tools').dlq, enc.encode('{"agent_id":"agent:late"}'), {
        headers: { 'x-reason': 'replayed' },
      });
      await f.waitForOutput(/replayed\s+agent:late/);
      f.kill('SIGINT');
      expect(await f.exited).toBe(0);
    } finally {
      await f.stop();
    }
  });

  it('dlq - a wrong --cluster is one line and exit 1', async () => {
    const r = await runInProcess(['dlq', '--cluster', 'nosuch', '--nats', nats.url]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^backbeat: no cluster 'nosuch'/);
  });
});

describe('backbeat status - rendering', () => {
  it('status - a pending change, no leader and no nodes read as sentences', () => {
    const now = Date.parse('2026-01-01T00:00:10Z');
    const s: ClusterStatus = {
      cluster_id: 'c',
      read_at: new Date(now).toISOString(),
      leader: null,
      tempo: {
        bpm: 12,
        bar_length: 8,
        pending: {
          tempo_bpm: 13,
          effective_beat: 96,
          effective_at: '2026-01-01T00:01:00Z',
          requested_by: 'pulse-2',
          justification: 'faster',
        },
      },
      pulse_nodes: [],
      reverb_replicas: [],
      servers: [{ name: 'n1', connected: true, version: '2.9.10' }],
      stores: [
        { kind: 'stream', name: 'BACKBEAT_c_STATUS', replicas: 3, leader: 'n1', peers: ['n2', 'n3'], messages: 1 },
      ],
    };
    const out = renderStatus(s, now);
    expect(out).toContain('leader   none (no node holds the lease: a failover, or no pulse running)');
    expect(out).toContain('tempo    12 BPM, 8 beats per bar');
    expect(out).toContain('pending  13 BPM from beat 96 (2026-01-01T00:01:00Z), asked on pulse-2: "faster"');
    expect(out).toContain('none announced');
    expect(out).toMatch(/stream BACKBEAT_c_STATUS\s+3 replicas, leader n1, copies on n2 n3, 1 message\n/);
  });
});
