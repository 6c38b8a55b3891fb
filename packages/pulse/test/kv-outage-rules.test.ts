/**
 * The lease's KV-outage rules (docs/decisions/0002-kv-outage-grace.md) on the in-memory bus and a
 * fake clock: a lease KV that answers "no responders" (a stream-leader election), times out, or
 * hangs, and two electors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { MemoryBroker, MemoryBus, openLeaseBucket, openStateBucket } from '@backbeat/transport';
import { fault, faulty, heal, type FaultState } from './lease-faults.js';
import { KvLeaseElector, LEADER_TERM_KEY, needsHandoverGuard, outageTimings } from '@backbeat/pulse/internal';

const TTL = 1000;
const T = outageTimings(TTL);
const flush = async () => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};

interface Node {
  e: KvLeaseElector;
  lease: FaultState;
  state: FaultState;
  logs: string[];
}

let clock: FakeClock;
let broker: MemoryBroker;
const nodes: Node[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) {
    heal(n.lease);
    heal(n.state);
    const stopped = n.e.stop();
    for (let i = 0; i < 50; i++) {
      clock.advance(10);
      await flush();
    }
    await stopped;
  }
});

async function node(id: string, graceMs = 3000): Promise<Node> {
  const bus = new MemoryBus({ broker, clock });
  const leaseKv = await openLeaseBucket(bus, 'c', { ttlMs: TTL });
  const stateKv = await openStateBucket(bus, 'c');
  const lease = fault();
  const state = fault();
  const logs: string[] = [];
  const logger = {
    info: (_o: object, m: string) => logs.push(m),
    warn: (_o: object, m: string) => logs.push(m),
    error: () => {},
    debug: () => {},
  };
  const e = new KvLeaseElector(faulty(leaseKv, clock, lease, T.requestTimeoutMs), id, {
    state: faulty(stateKv, clock, state, T.requestTimeoutMs),
    ttlMs: TTL,
    kvOutageGraceMs: graceMs,
    clock,
    logger: logger as never,
  });
  const n = { e, lease, state, logs };
  nodes.push(n);
  return n;
}

/** Advances the fake clock by `ms` in 10 ms steps, letting the electors' I/O run, calling `each` after every step. */
async function run(ms: number, each: () => void = () => {}): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    await flush();
    each();
  }
}

/** A fresh fake clock and broker for the next test. */
function freshCluster(): void {
  clock = new FakeClock();
  broker = new MemoryBroker({ clock });
}

/** A fresh cluster with node a leading alone, 300 ms in. */
async function soloLeader(graceMs: number): Promise<Node> {
  freshCluster();
  const a = await node('a', graceMs);
  await a.e.start();
  await run(300);
  return a;
}

/** A fresh broker and clock, node a leading and node b following it (half a second in). */
async function leaderAndStandby(): Promise<{ a: Node; b: Node }> {
  freshCluster();
  const a = await node('a');
  await a.e.start();
  const b = await node('b');
  await b.e.start();
  await run(500);
  return { a, b };
}

describe('lease - KV outage rules', () => {
  it(
    'outage - a leader whose renewals get no responders publishes ' +
      'past its lease, up to the grace, then steps down',
    async () => {
      freshCluster();
      const a = await node('a', 3000);
      await a.e.start();
      expect(a.e.leadership()).toMatchObject({ isLeader: true, term: 1 });
      await run(300);
      a.lease.mode = 'no-responders';
      const downAt = clock.now();
      let lastPublishable = 0;
      await run(6000, () => {
        if (a.e.canPublish(clock.now())) lastPublishable = clock.now();
      });
      // Published well past the lease (TTL 1 s), never past its last renewal + TTL - margin + grace.
      expect(lastPublishable - downAt).toBeGreaterThan(TTL + 1000);
      expect(lastPublishable - downAt).toBeLessThanOrEqual(3000 + TTL);
      expect(a.e.leadership()).toMatchObject({
        isLeader: false,
        leaseReachable: false,
        reason: expect.stringMatching(/outage grace \(3000 ms\)/),
      });
      expect(a.logs).toContain(
        'the lease KV has no stream leader: nobody can take the lease; publishing on the KV-outage grace',
      );
    },
  );

  it(
    'outage - with a grace of 0, or on timeouts (no evidence), ' + 'the leader stops before its lease can expire',
    async () => {
      for (const [grace, mode] of [
        [0, 'no-responders'],
        [3000, 'timeout'],
        [3000, 'hang'],
      ] as const) {
        const a = await soloLeader(grace);
        const lastOk = a.e.leadership().lastRenewalAt!;
        a.lease.mode = mode;
        let lastPublishable = 0;
        await run(3000, () => {
          if (a.e.canPublish(clock.now())) lastPublishable = clock.now();
        });
        expect(lastPublishable, `${grace} ${mode}`).toBeLessThan(lastOk + TTL);
        expect(a.e.leadership().isLeader, `${grace} ${mode}`).toBe(false);
        heal(a.lease);
        const stopped = a.e.stop();
        await run(500);
        await stopped;
        nodes.splice(0);
      }
    },
  );

  it(
    'outage - the KV answers again after the lease expired: the leader ' +
      're-creates it under the same term, without a gap',
    async () => {
      const a = await soloLeader(5000);
      a.lease.mode = 'no-responders';
      let gaps = 0;
      await run(3000, () => {
        if (!a.e.canPublish(clock.now())) gaps++;
      });
      a.lease.mode = 'none';
      await run(2000, () => {
        if (!a.e.canPublish(clock.now())) gaps++;
      });
      expect(gaps).toBe(0);
      expect(a.e.leadership()).toMatchObject({ isLeader: true, term: 1, leaseReachable: true });
      expect(a.logs).toContain('the lease expired during a KV outage; re-created it under the same term');
    },
  );

  it(
    'outage - a standby that takes the expired lease first: the old leader steps down ' +
      'at once, the new one waits the guard; fences never overlap',
    async () => {
      const { a, b } = await leaderAndStandby();
      expect(b.e.leadership()).toMatchObject({ isLeader: false, leaderId: 'a' });
      a.lease.mode = 'no-responders';
      b.lease.mode = 'no-responders';
      let overlap = 0;
      let aLast = 0;
      let bFirst = 0;
      const watch = () => {
        const now = clock.now();
        const pa = a.e.canPublish(now);
        const pb = b.e.canPublish(now);
        if (pa && pb) overlap++;
        if (pa) aLast = now;
        if (pb && !bFirst) bFirst = now;
      };
      await run(2500, watch);
      // The stream has a leader again; b's server knows it 1 s before a's does (past b's 300 ms
      // head start for the incumbent, within b's handover guard).
      b.lease.mode = 'none';
      await run(1000, watch);
      a.lease.mode = 'none';
      await run(2500, watch);
      expect(overlap).toBe(0);
      expect(b.e.leadership()).toMatchObject({ isLeader: true, term: 2 });
      expect(a.e.leadership()).toMatchObject({ isLeader: false, leaderId: 'b' });
      expect(bFirst - aLast).toBeGreaterThan(0);
      expect(b.logs).toContain('took a lease that expired during a KV outage: first frame after the handover guard');
    },
  );

  it(
    'outage - the KV returns for both nodes at once: the incumbent keeps its term ' +
      '(the standby leaves it a head start); the beat never stops',
    async () => {
      const { a, b } = await leaderAndStandby();
      a.lease.mode = 'no-responders';
      b.lease.mode = 'no-responders';
      let gaps = 0;
      let overlap = 0;
      const watch = () => {
        const pa = a.e.canPublish(clock.now());
        const pb = b.e.canPublish(clock.now());
        if (!pa && !pb) gaps++;
        if (pa && pb) overlap++;
      };
      await run(2500, watch);
      a.lease.mode = 'none';
      b.lease.mode = 'none';
      await run(2000, watch);
      expect({ gaps, overlap }).toEqual({ gaps: 0, overlap: 0 });
      expect(a.e.leadership()).toMatchObject({ isLeader: true, term: 1 });
      expect(b.e.leadership()).toMatchObject({ isLeader: false, leaderId: 'a', term: 1 });
    },
  );

  it(
    'outage - the term counter moved on during the outage: the old leader ends the lease ' +
      'it re-created and steps down; no frame of its term after that',
    async () => {
      const a = await soloLeader(5000);
      a.lease.mode = 'no-responders';
      await run(2000);
      // Another node counted a term meanwhile (it took the lease and lost it).
      const state = await openStateBucket(new MemoryBus({ broker, clock }), 'c');
      const e = await state.get(LEADER_TERM_KEY);
      await state.update(
        LEADER_TERM_KEY,
        new TextEncoder().encode(
          JSON.stringify({ term: 2, node_id: 'x', acquired_at: new Date(clock.wallNow()).toISOString() }),
        ),
        e!.revision,
      );
      a.lease.mode = 'none';
      let sawStepDown = false;
      let term1After = 0;
      await run(1500, () => {
        const l = a.e.leadership();
        if (l.reason === 'lease expired during a KV outage and another term began') sawStepDown = true;
        if (sawStepDown && l.term === 1 && a.e.canPublish(clock.now())) term1After++;
      });
      expect(sawStepDown).toBe(true);
      expect(term1After).toBe(0);
      // It may lead again only under a new term, after the counter's.
      const l = a.e.leadership();
      if (l.isLeader) expect(l.term).toBeGreaterThanOrEqual(3);
    },
  );

  it(
    'outage - a leader paused past its validity (event loop ' + 'stalled) is not extended by answers it gets late',
    async () => {
      const a = await soloLeader(10_000);
      a.lease.mode = 'no-responders';
      await run(1500);
      expect(a.e.canPublish(clock.now())).toBe(true); // on the grace
      clock.stall(3000); // SIGSTOP: nothing runs, time passes
      expect(a.e.canPublish(clock.now())).toBe(false);
      let published = 0;
      await run(2000, () => {
        if (a.e.canPublish(clock.now())) published++;
      });
      expect(published).toBe(0);
      expect(a.e.leadership().isLeader).toBe(false);
    },
  );

  it(
    'outage - a standby that saw no KV failure takes an expired ' + 'lease without the guard (the leader died)',
    async () => {
      const { a, b } = await leaderAndStandby();
      a.lease.mode = 'hang'; // a is gone: its requests never come back
      a.state.mode = 'hang';
      let tookAt = 0;
      let firstPublish = 0;
      await run(2500, () => {
        if (!tookAt && b.e.leadership().isLeader) tookAt = clock.now();
        if (!firstPublish && b.e.canPublish(clock.now())) firstPublish = clock.now();
      });
      expect(tookAt).toBeGreaterThan(0);
      expect(firstPublish).toBe(tookAt);
      expect(b.logs).not.toContain(
        'took a lease that expired during a KV outage: first frame after the handover guard',
      );
    },
  );
});

describe('lease - the handover guard only right after a KV outage', () => {
  it(
    'guard - a lease taken while the KV failed within the last TTL waits the guard; a TTL ' +
      'of answers later (a pulse killed after the outage) it does not',
    () => {
      const base = { now: 100_000, graceMs: 15_000, ttlMs: 2000, previousNode: 'a', nodeId: 'b', endedCleanly: false };
      expect(needsHandoverGuard({ ...base, troubleAt: 100_000 - 500 })).toBe(true);
      expect(needsHandoverGuard({ ...base, troubleAt: 100_000 - 2500 })).toBe(false);
      expect(needsHandoverGuard({ ...base, troubleAt: undefined })).toBe(false);
      expect(needsHandoverGuard({ ...base, troubleAt: 100_000 - 500, endedCleanly: true })).toBe(false);
      expect(needsHandoverGuard({ ...base, troubleAt: 100_000 - 500, graceMs: 0 })).toBe(false);
      expect(needsHandoverGuard({ ...base, troubleAt: 100_000 - 500, previousNode: 'b' })).toBe(false);
    },
  );
});
