/**
 * The bar ledger driven directly (no bus, no clock, milliseconds per run): two replicas share a
 * simulated claim stream and report stream; fast-check picks the order of deliveries,
 * redeliveries, duplicate deliveries, consumer stalls, direct reads (short ones too), gaps in
 * stream sequences, claims stored late or twice, store answers (stored, lost, failed, another
 * copy first) and restarts mid-bar. Checks docs/spec.md §9 Reverb: every stored claim is
 * counted in exactly one stored report (in its bar, as late, or as a refusal), every bar is
 * reported once and in order, and every stored report is broadcast exactly once: by the server, which republishes
 * each copy the report stream stores, whatever became of its builder. The fallback rule for a report stream without
 * the republish (the replica whose copy is stored broadcasts it) holds unless its builder stopped before the answer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BAR, run } from './bar-ledger-sim.js';

const rates = fc.record({
  late: fc.double({ min: 0, max: 0.3, noNaN: true }),
  twice: fc.double({ min: 0, max: 0.1, noNaN: true }),
  gap: fc.double({ min: 0, max: 0.2, noNaN: true }),
  stall: fc.double({ min: 0, max: 0.6, noNaN: true }),
  redeliver: fc.double({ min: 0, max: 0.2, noNaN: true }),
  duplicate: fc.double({ min: 0, max: 0.2, noNaN: true }),
  shortRead: fc.double({ min: 0, max: 0.5, noNaN: true }),
  storeFails: fc.double({ min: 0, max: 0.3, noNaN: true }),
  ackLost: fc.double({ min: 0, max: 0.3, noNaN: true }),
  restart: fc.double({ min: 0, max: 0.01, noNaN: true }),
});

describe('reverb - the bar ledger (fast-check, no bus)', () => {
  it(
    'ledger - every stored claim is counted in exactly one stored report, whatever the ' +
      'deliveries, reads, store answers and restarts',
    () => {
      fc.assert(
        fc.property(fc.integer(), rates, (seed, r) => {
          const { stream, reports } = run(seed, r);
          const finalCut = Math.max(0, ...[...reports.values()].map((c) => c.cut));
          const times = new Map<number, number>();
          for (const c of reports.values()) {
            for (const x of c.counted) times.set(x.seq, (times.get(x.seq) ?? 0) + 1);
            const p = c.report.performance!;
            expect(c.counted.length).toBe(p.claims_processed! + p.claims_rejected! + (c.report.late_claims ?? 0));
          }
          const wrong = stream
            .filter((m) => m.seq <= finalCut && times.get(m.seq) !== 1)
            .map((m) => [m.seq, times.get(m.seq) ?? 0]);
          expect(wrong).toEqual([]);
          // The check covers every claim: the last report's cut is past the last claim stored.
          expect(finalCut).toBeGreaterThanOrEqual(stream.at(-1)?.seq ?? 0);
        }),
        { numRuns: 150 },
      );
    },
  );

  it(
    'ledger - every bar has one stored report, each replica reports bars once and in order, ' +
      'each stored report is broadcast once (by the server), builders stopped before the answer ' +
      'included',
    () => {
      fc.assert(
        fc.property(fc.integer(), rates, (seed, r) => {
          const { reports, broadcasts, ownCopies, replicas, bars, unanswered } = run(seed, r);
          const beats = [...reports.keys()].sort((x, y) => x - y);
          for (let i = 1; i < beats.length; i++) expect(beats[i]! - beats[i - 1]!).toBe(BAR);
          expect(beats.at(-1)).toBeGreaterThanOrEqual((bars + 2) * BAR);
          for (const b of beats) expect([b, broadcasts.get(b) ?? 0]).toEqual([b, 1]);
          // The fallback without the republish: one replica calls the copy its own,
          // unless it stopped before the answer.
          for (const b of beats) expect([b, ownCopies.get(b) ?? 0]).toEqual([b, unanswered.has(b) ? 0 : 1]);
          for (const rep of replicas) {
            for (const done of rep.incarnations)
              for (let i = 1; i < done.length; i++) expect(done[i]! - done[i - 1]!).toBe(BAR);
          }
        }),
        { numRuns: 150 },
      );
    },
  );
});
