/** Shared fast-check arbitraries and helpers of the beat clock tests (not a test file). */
import fc from 'fast-check';
import { applyTempoChange, createTempoMap, type TempoMap } from '@backbeat/core';

/** The largest double below x (x > 0): the instant just before a boundary. */
export function prevDouble(x: number): number {
  const f = new Float64Array([x]);
  const i = new BigInt64Array(f.buffer);
  i[0]! -= 1n;
  return f[0]!;
}

/** A tempo map built by a chain of changes of at most ±10 %, each placed after the last. */
export const arbMap: fc.Arbitrary<TempoMap> = fc
  .record({
    start: fc.double({ min: 1_600_000_000_000, max: 1_900_000_000_000, noNaN: true }),
    startBeat: fc.oneof(fc.constant(0), fc.nat({ max: 1000 })),
    bpm: fc.double({ min: 0.1, max: 1000, noNaN: true }),
    bar: fc.integer({ min: 1, max: 16 }),
    phases: fc.constantFrom<string[]>(['plan', 'execute', 'review'], ['plan', 'review'], ['execute']),
    changes: fc.array(
      fc.record({
        after: fc.double({ min: 0, max: 100_000, noNaN: true }),
        factor: fc.double({ min: 0.9, max: 1.1, noNaN: true }),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ start, startBeat, bpm, bar, phases, changes }) => {
    let map = createTempoMap({ startTime: start, startBeat, tempoBpm: bpm, barLength: bar, phases });
    for (const c of changes) {
      const last = map.segments.at(-1)!;
      const next = Math.min(1000, Math.max(0.1, last.tempoBpm * c.factor));
      map = applyTempoChange(map, next, last.startTime + c.after).map;
    }
    return map;
  });

/** A beat index somewhere on the map: before, on and after every segment boundary. */
export function beatOn(map: TempoMap, pick: number): number {
  const first = map.segments[0]!.startBeat;
  const span = map.segments.at(-1)!.startBeat - first + 3 * map.barLength + 1;
  return first + (pick % span);
}
