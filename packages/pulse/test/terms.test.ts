import { describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import {
  clusterNames,
  decodeLeaseRecord,
  MemoryBroker,
  MemoryBus,
  openStateBucket,
  STATE_KEYS,
  TimeoutError,
  type KvBucket,
} from '@backbeat/transport';
import { LeaseTtlMismatchError, Pulse } from '@backbeat/pulse';
import { KvLeaseElector, LEADER_TERM_KEY } from '@backbeat/pulse/internal';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { collectFrames, gridProblems } from './helpers.js';
import { pulseBin } from './process.js';

const nats = useNatsFixture();
const bus = () => nats.connect();
// 300 BPM: the tempo is not the point, and the frames awaited come 2.5 times as often as at 120.
const BPM = 300;

async function node(
  cluster: string,
  nodeId: string,
  extra: Partial<ConstructorParameters<typeof Pulse>[0]> = {},
): Promise<Pulse> {
  const p = new Pulse({
    bus: await bus(),
    clusterId: cluster,
    nodeId,
    bpm: BPM,
    maxBpm: BPM,
    leaseTtlMs: 1000,
    ...extra,
  });
  nats.track(p);
  await p.start();
  return p;
}

describe('pulse - terms count leaderships and the lease shows them', () => {
  it(
    'terms - 1, 2, 3 across two handovers; every frame carries a term the ' +
      'lease showed; /leader names the previous leader and why',
    async () => {
      const cluster = 'terms';
      const seen = collectFrames(await bus(), cluster);
      const lease = await (await bus()).kv(clusterNames(cluster).leaseBucket, { ttlMs: 1000 });
      const leaseTerms = new Set<number>();
      const watch = await lease.watch(STATE_KEYS.leader, (e) => {
        if (e.operation === 'put') leaseTerms.add(decodeLeaseRecord(e.value).term);
      });
      const a = await node(cluster, 'a');
      await waitFor(() => a.leaderStatus().is_leader, { message: 'a to lead' });
      expect(a.leaderStatus()).toMatchObject({
        term: 1,
        role: 'leader',
        previous_leader: null,
        change_reason: 'first leader',
        lease_ttl_ms: 1000,
      });
      const b = await node(cluster, 'b');
      await waitFor(() => seen.frames.length >= 3, { timeoutMs: 5000, message: 'frames of term 1' });
      await a.stop();
      await waitFor(() => b.leaderStatus().is_leader, { timeoutMs: 3000, message: 'b to lead' });
      expect(b.leaderStatus()).toMatchObject({
        term: 2,
        leader: 'b',
        previous_leader: 'a',
        change_reason: expect.stringMatching(/a released/),
      });
      const c = await node(cluster, 'c');
      await waitFor(() => c.leaderStatus().leader === 'b', { message: 'c to follow b' });
      await waitFor(() => seen.frames.some((f) => f.term === 2), { timeoutMs: 3000, message: 'frames of term 2' });
      await b.stop();
      await waitFor(() => c.leaderStatus().is_leader, { timeoutMs: 3000, message: 'c to lead' });
      expect(c.leaderStatus()).toMatchObject({ term: 3, previous_leader: 'b' });
      await waitFor(() => seen.frames.filter((f) => f.term === 3).length >= 3, {
        timeoutMs: 3000,
        message: 'frames of term 3',
      });
      await waitFor(() => leaseTerms.has(3), { message: 'the lease watch to show term 3' });
      expect([...new Set(seen.frames.map((f) => f.term))]).toEqual([1, 2, 3]);
      for (const t of new Set(seen.frames.map((f) => f.term)))
        expect(leaseTerms.has(t), `term ${t} in the lease`).toBe(true);
      expect(gridProblems(seen.frames)).toEqual([]);
      const counter = await (await openStateBucket(await bus(), cluster)).get(LEADER_TERM_KEY);
      expect(JSON.parse(new TextDecoder().decode(counter!.value))).toMatchObject({ term: 3, node_id: 'c' });
      watch.stop();
      seen.stop();
    },
  );
});

// Side by side: two clusters, and one of them a CLI process that mostly loads and exits.
describe.concurrent('pulse - the lease TTL is the bucket TTL', () => {
  it(
    'lease ttl - a node asking for another TTL refuses to start, naming both values ' +
      'and the fix; one without the flag adopts the bucket TTL',
    async () => {
      const cluster = 'ttl';
      const seen = collectFrames(await bus(), cluster);
      const a = await node(cluster, 'a', { leaseTtlMs: 1000 });
      await waitFor(() => a.leaderStatus().is_leader, { message: 'a to lead' });
      const b = new Pulse({
        bus: await bus(),
        clusterId: cluster,
        nodeId: 'b',
        bpm: BPM,
        maxBpm: BPM,
        leaseTtlMs: 10_000,
      });
      const err = await b.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LeaseTtlMismatchError);
      expect((err as Error).message).toMatch(
        /--lease-ttl 10000 ms differs from the TTL of the lease bucket \S+ \(1000 ms\).*--lease-ttl 1000/,
      );
      expect(b.state).toBe('stopped');
      const c = await node(cluster, 'c', { leaseTtlMs: undefined });
      expect(c.leaderStatus()).toMatchObject({ lease_ttl_ms: 1000, leader: 'a' });
      await a.stop();
      await waitFor(() => c.leaderStatus().is_leader, {
        timeoutMs: 3000,
        message: 'c to take over with the bucket TTL',
      });
      await waitFor(() => seen.frames.filter((f) => f.term === 2).length >= 2, { timeoutMs: 3000 });
      expect(b.publishedCount).toBe(0);
      expect(gridProblems(seen.frames)).toEqual([]);
      seen.stop();
    },
  );

  it('lease ttl - `backbeat pulse --lease-ttl` against a bucket with another TTL exits 1 with one line', async () => {
    await node('ttlcli', 'x', { leaseTtlMs: 1000 });
    const proc = ManagedProcess.node(
      pulseBin,
      ['pulse', '--cluster', 'ttlcli', '--nats', nats.url, '--admin-port', '0', '--lease-ttl', '5000'],
      { env: { BACKBEAT_LOG_FORMAT: 'json' } },
    );
    try {
      expect(await proc.exited).toBe(1);
      const lines = proc.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^backbeat: --lease-ttl 5000 ms differs from the TTL of the lease bucket \S+ \(1000 ms\): start every pulse with --lease-ttl 1000/,
      );
      expect(proc.stdout).not.toMatch(/became leader|admin API listening/);
    } finally {
      await proc.stop();
    }
  });
});

/** A bucket that applies the next update but loses its answer (the client times out). */
function losingAnswers(kv: KvBucket): KvBucket & { loseNext: number; lost: number; down: boolean } {
  const unreachable = () => Promise.reject(new TimeoutError(`$KV.${kv.name}`, 100));
  const w = {
    loseNext: 0,
    lost: 0,
    /** While true, every call fails as if the KV did not answer. */
    down: false,
    name: kv.name,
    get: (k: string) => (w.down ? unreachable() : kv.get(k)),
    create: (k: string, v: Uint8Array) => kv.create(k, v),
    put: (k: string, v: Uint8Array) => kv.put(k, v),
    delete: (k: string, o?: { expectedRevision?: number }) => kv.delete(k, o),
    watch: (k: string, cb: Parameters<KvBucket['watch']>[1]) => kv.watch(k, cb),
    keys: () => kv.keys(),
    settings: () => kv.settings(),
    async update(k: string, v: Uint8Array, rev: number): Promise<number> {
      if (w.down) return unreachable();
      const r = await kv.update(k, v, rev);
      if (w.loseNext > 0) {
        w.loseNext--;
        w.lost++;
        throw new TimeoutError(`$KV.${kv.name}.${k}`, 100);
      }
      return r;
    },
  };
  return w;
}

/** A lease bucket and a state bucket on the in-memory bus and a fake clock (the renewal rules are logic, not I/O). */
async function memoryBuckets(cluster: string): Promise<{ clock: FakeClock; lease: KvBucket; state: KvBucket }> {
  const clock = new FakeClock();
  const b = new MemoryBus({ broker: new MemoryBroker({ clock }), clock });
  return {
    clock,
    lease: await b.kv(clusterNames(cluster).leaseBucket, { ttlMs: 1000 }),
    state: await openStateBucket(b, cluster),
  };
}

/** Advances `clock` by `ms` in 10 ms steps, letting the elector's I/O run between them; `each` after every step. */
async function run(clock: FakeClock, ms: number, each: () => void = () => {}): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    each();
  }
}

/** Runs `clock` until `predicate` holds, at most `ms`; returns whether it did. */
async function runUntil(clock: FakeClock, ms: number, predicate: () => boolean): Promise<boolean> {
  for (let t = 0; t < ms && !predicate(); t += 10) await run(clock, 10);
  return predicate();
}

describe('pulse - a lost renewal answer', () => {
  it('renewal - the leader reads its lease back, adopts the revision and keeps leading without a gap', async () => {
    const { clock, lease: kv, state } = await memoryBuckets('lost');
    const lease = losingAnswers(kv);
    const logs: string[] = [];
    const logger = {
      info: (_o: object, m: string) => logs.push(m),
      warn: (_o: object, m: string) => logs.push(m),
      error: () => {},
      debug: () => {},
    };
    const e = new KvLeaseElector(lease, 'solo', { state, ttlMs: 1000, clock, logger: logger as never });
    await e.start();
    try {
      expect(e.leadership()).toMatchObject({ isLeader: true, term: 1 });
      lease.loseNext = 3;
      let gaps = 0;
      await run(clock, 2500, () => {
        if (!e.canPublish(clock.now())) gaps++;
      }); // well past the TTL
      expect(lease.lost).toBe(3);
      expect(gaps).toBe(0);
      expect(e.leadership()).toMatchObject({ isLeader: true, term: 1, leaderId: 'solo' });
      expect(logs.filter((m) => /renewal answer was lost/.test(m))).toHaveLength(3);
      expect(logs).not.toContain('stepped down');
    } finally {
      const stopped = e.stop();
      await run(clock, 100);
      await stopped;
    }
  });
});

describe('pulse - a leader that cannot renew says so', () => {
  it('renewal - lease_unreachable while it may still publish, then it stops before the lease can expire', async () => {
    const { clock, lease: kv, state } = await memoryBuckets('unreach');
    const lease = losingAnswers(kv);
    const e = new KvLeaseElector(lease, 'solo', { state, ttlMs: 1000, clock });
    await e.start();
    try {
      expect(await runUntil(clock, 1000, () => e.leadership().lastRenewalAt != null)).toBe(true);
      lease.down = true;
      const downAt = clock.now();
      expect(
        await runUntil(clock, 1000, () => e.leadership().leaseReachable === false),
        'the failed renewal to show',
      ).toBe(true);
      expect(e.canPublish(clock.now())).toBe(true); // its lease is still valid
      expect(await runUntil(clock, 2000, () => !e.leadership().isLeader), 'the fence').toBe(true);
      // The last good renewal was sent before downAt: the server cannot expire it before then + TTL.
      expect(clock.now()).toBeLessThan(downAt + 1000);
      expect(e.leadership()).toMatchObject({
        leaderId: null,
        previousLeaderId: 'solo',
        reason: 'lease not renewed in time',
      });
      lease.down = false;
    } finally {
      const stopped = e.stop();
      await run(clock, 100);
      await stopped;
    }
  });
});
