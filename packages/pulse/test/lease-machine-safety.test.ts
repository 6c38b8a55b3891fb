/**
 * The lease machine's safety (docs/spec.md §7 Election, terms and fencing), driven directly with
 * fast-check: two machines share a simulated KV (lease-sim.ts: compare-and-set by revision, TTL
 * expiry, limit markers or none) under any schedule of answers and their latencies, timeouts and
 * hangs of one node's link (whose writes may still have been applied), a stream without a leader
 * for every node alike, pauses of a node, clock-check refusals, self-fences, and clock offsets
 * within the bound. Their publish intervals never overlap in true time, a term is published by
 * one node only and terms on the wire only grow, and the terms each node sees only grow. (One
 * node alone getting "no responders" is a network partition: docs/spec.md §7 Election, terms and
 * fencing states what the KV-outage grace allows there, so the stream outage here is every node's.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LeaseSim, type LinkFault, type PublishInterval } from './lease-sim.js';

/** The first overlap between publish intervals of different nodes, or undefined. */
function overlap(intervals: readonly PublishInterval[]): [PublishInterval, PublishInterval] | undefined {
  const last = new Map<number, PublishInterval>(); // the interval reaching furthest, per node
  for (const x of intervals) {
    for (const [node, y] of last) if (node !== x.node && y.end > x.start) return [y, x];
    const mine = last.get(x.node);
    if (!mine || x.end > mine.end) last.set(x.node, x);
  }
  return undefined;
}

/** Terms on the wire in time order only grow, and each term has one publisher. */
function termProblem(intervals: readonly PublishInterval[]): string | undefined {
  const owner = new Map<number, number>();
  let highest = 0;
  for (const x of intervals) {
    if (x.term < highest) return `term ${x.term} of n${x.node} at ${x.start} after term ${highest}`;
    highest = x.term;
    if ((owner.get(x.term) ?? x.node) !== x.node)
      return `term ${x.term} published by n${owner.get(x.term)} and n${x.node}`;
    owner.set(x.term, x.node);
  }
  return undefined;
}

const link = fc.constantFrom<LinkFault>('none', 'none', 'timeout', 'hang');
/** `a` in `percent` of the cases, else null. */
const sometimes = <T>(percent: number, a: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(null) }, { weight: percent, arbitrary: a });
const node = fc.constantFrom(0, 1);
/** One stretch of the schedule: what holds for `ms`, and what happens at its start. */
const stretch = fc.record({
  links: fc.tuple(link, link, link, link),
  noLeader: fc.record({ lease: fc.boolean(), term: fc.boolean() }),
  // A pause of its own length, or one that ends up to 40 ms after the stretch does (a node that
  // wakes just as an outage ends has seen none of it).
  pause: sometimes(30, fc.record({ node, ms: fc.integer({ min: 10, max: 4000 }), withStretch: fc.boolean() })),
  refused: sometimes(15, node),
  selfFence: sometimes(10, node),
  ms: fc.integer({ min: 20, max: 2500 }),
});
const world = fc.record({
  ttlMs: fc.constantFrom(1000, 2000),
  graceMs: fc.constantFrom(0, 3000, 15_000),
  bound: fc.constantFrom(0, 20, 100),
  skew: fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true })),
  markers: fc.boolean(),
  seed: fc.integer(),
  schedule: fc.array(stretch, { minLength: 1, maxLength: 12 }),
});

describe('lease machine - two nodes on a simulated KV', () => {
  it('safety - any answers, timeouts, hangs, outages, pauses, clock skew: one publisher at a time, terms grow', () => {
    fc.assert(
      fc.property(world, (w) => {
        const offsets = w.skew.map((f) => Math.round(f * w.bound));
        const sim = new LeaseSim({
          ttlMs: w.ttlMs,
          graceMs: w.graceMs,
          clockOffsetBoundMs: w.bound,
          offsets,
          markers: w.markers,
          seed: w.seed,
        });
        sim.start();
        let t = 0;
        for (const st of w.schedule) {
          st.links.forEach((f, k) => sim.setLink(k >> 1, k % 2 === 0 ? 'lease' : 'term', f));
          sim.setNoLeader('lease', st.noLeader.lease);
          sim.setNoLeader('term', st.noLeader.term);
          sim.nodes.forEach((n, i) => (n.refused = st.refused === i));
          if (st.pause) sim.pause(st.pause.node, st.pause.withStretch ? st.ms + (st.pause.ms % 40) : st.pause.ms);
          if (st.selfFence !== null) sim.raise(st.selfFence, { type: 'fence', reason: 'connection stalled' });
          sim.run((t += st.ms));
        }
        // Everything heals: somebody leads again within a few TTLs.
        for (let i = 0; i < 2; i++) for (const b of ['lease', 'term'] as const) sim.setLink(i, b, 'none');
        sim.setNoLeader('lease', false);
        sim.setNoLeader('term', false);
        sim.nodes.forEach((n) => (n.refused = false));
        sim.run(t + 3000 + 3 * w.ttlMs);
        const intervals = sim.finish();
        expect(overlap(intervals)).toBeUndefined();
        expect(termProblem(intervals)).toBeUndefined();
        for (const n of sim.nodes) expect(n.terms).toEqual([...n.terms].sort((a, b) => a - b));
        expect(sim.nodes.some((n) => n.state.isLeader)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('safety - a standby paused through a whole outage never publishes beside the leader on its grace', () => {
    // The standby saw no KV failure: without counting its blindness as trouble it would take the
    // expired lease at once, while the leader still publishes on its last "no responders".
    let runs = 0;
    for (const markers of [false, true])
      for (const start of [300, 500, 700])
        for (const len of [1200, 2000, 3000])
          for (const extra of [0, 10, 40])
            for (let seed = 0; seed < 5; seed++) {
              const sim = new LeaseSim({
                ttlMs: 1000,
                graceMs: 3000,
                clockOffsetBoundMs: 0,
                offsets: [0, 0],
                markers,
                seed,
              });
              sim.start();
              sim.run(start);
              const standby = sim.nodes.findIndex((n) => !n.state.isLeader);
              sim.pause(standby, len + extra);
              sim.setNoLeader('lease', true);
              sim.run(start + len);
              sim.setNoLeader('lease', false);
              sim.run(start + len + 4000);
              const intervals = sim.finish();
              expect(overlap(intervals), JSON.stringify({ markers, start, len, extra, seed })).toBeUndefined();
              runs++;
            }
    expect(runs).toBe(270);
  });
});
