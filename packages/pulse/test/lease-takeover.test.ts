/**
 * The lease takeover (docs/spec.md §7 Election, terms and fencing): a follower takes a lease
 * whose holder must have fenced itself (not renewed for TTL − fence margin + 2 x the clock-offset
 * bound + 50 ms since it was written), by compare-and-set on its revision. Two electors on one in-memory KV and a fake
 * clock, driven by fast-check through any schedule of KV faults: a bucket's stream without a leader ("no responders"
 * for every node alike), and timeouts or hangs of one node's calls (a stalled link or process).
 * They never may publish at the same instant, and the terms each node sees only grow. (One
 * node alone getting "no responders" is a network partition: docs/spec.md §7 Election, terms
 * and fencing states what the KV-outage grace allows there.)
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { MemoryBroker, MemoryBus, openLeaseBucket, openStateBucket } from '@backbeat/transport';
import { KvLeaseElector, outageTimings, TAKEOVER_SAFETY_MS } from '@backbeat/pulse/internal';
import { fault, faulty, heal, type Fault, type FaultState } from './lease-faults.js';

const TTL = 1000;
/** The fake clock is every node's clock: no offset between them. */
const OFFSET_BOUND = 0;
const T = outageTimings(TTL);

interface SimNode {
  readonly id: string;
  readonly e: KvLeaseElector;
  readonly lease: FaultState;
  readonly state: FaultState;
  started: boolean;
}

/** One simulated cluster: a fake clock, a broker, electors; stop() ends them all. */
class Sim {
  readonly clock = new FakeClock();
  readonly broker = new MemoryBroker({ clock: this.clock });
  readonly nodes: SimNode[] = [];
  /** A bucket's stream without a leader: "no responders" for every node alike. */
  readonly noLeader = { lease: fault(), state: fault() };

  async node(id: string, clockOffsetBoundMs: number | undefined = OFFSET_BOUND): Promise<SimNode> {
    const bus = new MemoryBus({ broker: this.broker, clock: this.clock });
    const leaseKv = await openLeaseBucket(bus, 'c', { ttlMs: TTL });
    const stateKv = await openStateBucket(bus, 'c');
    const lease = fault();
    const state = fault();
    const shared = (kv: typeof leaseKv, f: FaultState) => faulty(kv, this.clock, f, T.requestTimeoutMs);
    const e = new KvLeaseElector(
      faulty(shared(leaseKv, this.noLeader.lease), this.clock, lease, T.requestTimeoutMs),
      id,
      {
        state: faulty(shared(stateKv, this.noLeader.state), this.clock, state, T.requestTimeoutMs),
        ttlMs: TTL,
        kvOutageGraceMs: 3000,
        clockOffsetBoundMs,
        clock: this.clock,
      },
    );
    const n = { id, e, lease, state, started: false };
    this.nodes.push(n);
    return n;
  }

  /** Advances the fake clock in 10 ms steps, letting I/O run, calling `each` after every step. */
  async run(ms: number, each: () => void = () => {}): Promise<void> {
    for (let t = 0; t < ms; t += 10) {
      this.clock.advance(10);
      for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
      each();
    }
  }

  async stop(): Promise<void> {
    for (const f of [this.noLeader.lease, this.noLeader.state, ...this.nodes.flatMap((n) => [n.lease, n.state])])
      heal(f);
    const stopped = Promise.all(this.nodes.map((n) => n.e.stop()));
    await this.run(500);
    await stopped;
  }
}

let sims: Sim[] = [];
afterEach(async () => {
  for (const s of sims.splice(0)) await s.stop();
});
const sim = (): Sim => {
  const s = new Sim();
  sims.push(s);
  return s;
};

describe('lease - takeover by compare-and-set', () => {
  it(
    'takeover - a leader that stops renewing is replaced once it must have ' +
      'fenced itself, by a new term, never overlapping',
    async () => {
      const s = sim();
      const a = await s.node('a');
      await a.e.start();
      const b = await s.node('b');
      await b.e.start();
      await s.run(600);
      expect(a.e.leadership()).toMatchObject({ isLeader: true, term: 1 });
      // a's renewals hang from now on (a stalled process): its last write stays the lease.
      a.lease.mode = 'hang';
      const hungAt = s.clock.now();
      let aLast = 0;
      let bFirst = 0;
      await s.run(3000, () => {
        const now = s.clock.now();
        if (a.e.canPublish(now)) aLast = now;
        if (!bFirst && b.e.canPublish(now)) bFirst = now;
      });
      expect(b.e.leadership()).toMatchObject({ isLeader: true, term: 2 });
      expect(aLast).toBeLessThan(bFirst);
      // The last renewal was at most TTL/4 before the hang: b leads within TTL − fence margin + 50 ms of it, plus a
      // step.
      expect(bFirst - hungAt).toBeLessThanOrEqual(TTL - a.e.fenceMarginMs + TAKEOVER_SAFETY_MS + 10);
      expect(bFirst - aLast).toBeGreaterThan(0);
    },
  );

  it('takeover - any schedule of KV faults and pauses: never two publishers at once, terms only grow', async () => {
    const faults: Fault[] = ['none', 'none', 'timeout', 'hang'];
    // A node's calls time out or hang (one node's link or process), or a stream loses its leader
    // ("no responders" for every node alike), each for a while.
    const step = fc.record({
      node: fc.constantFrom(0, 1),
      what: fc.constantFrom<'lease' | 'state'>('lease', 'state'),
      mode: fc.constantFrom(...faults),
      noLeader: fc.boolean(),
      ms: fc.integer({ min: 20, max: 1500 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (schedule) => {
        const s = new Sim();
        try {
          const nodes = [await s.node('a'), await s.node('b')];
          for (const n of nodes) await n.e.start();
          let overlap = 0;
          const lastTerm = [0, 0];
          let termsShrank = false;
          const check = () => {
            const now = s.clock.now();
            if (nodes.every((n) => n.e.canPublish(now))) overlap++;
            nodes.forEach((n, i) => {
              const t = n.e.leadership().term;
              if (t < lastTerm[i]!) termsShrank = true;
              lastTerm[i] = t;
            });
          };
          for (const st of schedule) {
            const target = nodes[st.node]![st.what];
            if (st.mode === 'none') heal(target);
            else target.mode = st.mode;
            if (st.noLeader) s.noLeader[st.what].mode = 'no-responders';
            else heal(s.noLeader[st.what]);
            await s.run(st.ms, check);
          }
          for (const f of [s.noLeader.lease, s.noLeader.state, ...nodes.flatMap((n) => [n.lease, n.state])]) heal(f);
          await s.run(3000, check);
          expect(overlap).toBe(0);
          expect(termsShrank).toBe(false);
          // Healed, somebody leads again.
          expect(nodes.some((n) => n.e.leadership().isLeader)).toBe(true);
        } finally {
          await s.stop();
        }
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
