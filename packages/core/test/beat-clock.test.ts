import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyTempoChange,
  compareSlots,
  createTempoMap,
  fromLegacy,
  nextSlot,
  positionAt,
  slot,
  slotAtOrAfter,
  timeOf,
  toLegacy,
  type TempoMap,
} from '@backbeat/core';

const T0 = 1_700_000_000_000;

describe('beat clock - grid at a fixed tempo', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 8 });

  it('beat clock - 12 BPM gives 5 s beats split in three phases', () => {
    expect(timeOf(map, 0, 0)).toBe(T0);
    expect(timeOf(map, 1, 0)).toBe(T0 + 5000);
    const s = slot(map, 3, 1);
    expect(s).toMatchObject({ beatIndex: 3, phase: 'execute', beatStart: T0 + 15_000, downbeat: false, barIndex: 0, beatInBar: 3 });
    expect(s.phaseStart).toBeCloseTo(T0 + 15_000 + 5000 / 3, 6);
    expect(s.phaseEnd).toBeCloseTo(T0 + 15_000 + 10_000 / 3, 6);
  });

  it('beat clock - the review deadline is the next beat start', () => {
    expect(slot(map, 0, 2).phaseEnd).toBe(timeOf(map, 1, 0));
  });

  it('beat clock - downbeats every bar, beat 0 included', () => {
    expect(slot(map, 0, 0).downbeat).toBe(true);
    expect(slot(map, 8, 2)).toMatchObject({ downbeat: true, barIndex: 1, beatInBar: 0, downbeatIndex: 8 });
    expect(slot(map, 9, 0).downbeat).toBe(false);
  });

  it('beat clock - before the grid there is no position', () => {
    expect(positionAt(map, T0 - 1)).toBeNull();
    expect(slotAtOrAfter(map, T0 - 1000)).toMatchObject({ beatIndex: 0, phaseIndex: 0 });
  });

  it('beat clock - 120 BPM and an instant inside a phase', () => {
    const fast = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    expect(positionAt(fast, T0 + 1250)).toMatchObject({ beatIndex: 2, phaseIndex: 1, phase: 'execute' });
    expect(slotAtOrAfter(fast, T0 + 1250)).toMatchObject({ beatIndex: 2, phaseIndex: 2 });
  });

  it('beat clock - custom phases', () => {
    const two = createTempoMap({ startTime: T0, tempoBpm: 60, phases: ['plan', 'review'] });
    expect(slot(two, 0, 1)).toMatchObject({ phase: 'review', phaseStart: T0 + 500, phaseEnd: T0 + 1000 });
    expect(() => createTempoMap({ startTime: T0, tempoBpm: 60, phases: ['review', 'plan'] })).toThrow(/phases/);
    expect(() => createTempoMap({ startTime: T0, tempoBpm: 60, phases: ['work'] })).toThrow(/phases/);
  });

  it('beat clock - rejects out-of-contract values', () => {
    expect(() => createTempoMap({ startTime: T0, tempoBpm: 0.05 })).toThrow(/tempoBpm/);
    expect(() => createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 0 })).toThrow(/barLength/);
    expect(() => slot(map, -1, 0)).toThrow(/beatIndex/);
    expect(() => slot(map, 0, 3)).toThrow(/phaseIndex/);
  });
});

describe('beat clock - legacy {bar, beat} (BACKBEAT-REQ-043)', () => {
  it('legacy - 1-based bar and beat', () => {
    expect(toLegacy(0, 8)).toEqual({ bar: 1, beat: 1 });
    expect(toLegacy(7, 8)).toEqual({ bar: 1, beat: 8 });
    expect(toLegacy(8, 8)).toEqual({ bar: 2, beat: 1 });
    expect(() => fromLegacy({ bar: 1, beat: 9 }, 8)).toThrow(/beat/);
  });

  it('legacy - round-trips', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1e9 }), fc.integer({ min: 1, max: 10_000 }), (i, len) => {
        expect(fromLegacy(toLegacy(i, len), len)).toBe(i);
      }),
    );
  });
});

/** A random tempo map built by a chain of valid changes. */
const arbMap = fc
  .record({
    start: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
    bpm: fc.double({ min: 0.5, max: 900, noNaN: true }),
    bar: fc.integer({ min: 1, max: 16 }),
    phases: fc.constantFrom<string[]>(['plan', 'execute', 'review'], ['plan', 'review'], ['execute']),
    changes: fc.array(fc.record({ after: fc.double({ min: 0, max: 100_000, noNaN: true }), factor: fc.double({ min: 0.9, max: 1.1, noNaN: true }) }), { maxLength: 6 }),
  })
  .map(({ start, bpm, bar, phases, changes }) => {
    let map: TempoMap = createTempoMap({ startTime: start, tempoBpm: bpm, barLength: bar, phases });
    let at = start;
    for (const c of changes) {
      at += c.after;
      const current = map.segments[map.segments.length - 1]!.tempoBpm;
      const next = Math.min(1000, Math.max(0.1, current * c.factor));
      map = applyTempoChange(map, next, at).map;
      at = map.segments[map.segments.length - 1]!.startTime;
    }
    return map;
  });

describe('beat clock - properties', () => {
  it('beat clock - slot start times strictly increase in grid order', () => {
    fc.assert(
      fc.property(arbMap, fc.nat({ max: 500 }), (map, from) => {
        let prev = slot(map, from, 0);
        for (let i = 0; i < 40; i++) {
          const next = nextSlot(map, prev);
          expect(next.phaseStart).toBeGreaterThan(prev.phaseStart);
          expect(next.phaseStart).toBe(prev.phaseEnd);
          prev = next;
        }
      }),
    );
  });

  it('beat clock - positionAt(timeOf(b, k)) is (b, k), and just before it is the slot before', () => {
    fc.assert(
      fc.property(arbMap, fc.nat({ max: 2000 }), fc.nat({ max: 2 }), (map, b, k0) => {
        const k = k0 % map.phases.length;
        const t = timeOf(map, b, k);
        expect(positionAt(map, t)).toMatchObject({ beatIndex: b, phaseIndex: k });
        const mid = (t + slot(map, b, k).phaseEnd) / 2;
        expect(positionAt(map, mid)).toMatchObject({ beatIndex: b, phaseIndex: k });
        if (b > 0 || k > 0) {
          const before = positionAt(map, t - 1e-3)!;
          expect(compareSlots(before, { beatIndex: b, phaseIndex: k })).toBeLessThan(0);
        }
      }),
    );
  });

  it('beat clock - a tempo change keeps every earlier slot and starts on the old grid downbeat', () => {
    fc.assert(
      fc.property(arbMap, fc.double({ min: 0, max: 200_000, noNaN: true }), fc.double({ min: 0.9, max: 1.1, noNaN: true }), (map, after, factor) => {
        const at = map.segments[map.segments.length - 1]!.startTime + after;
        const current = map.segments[map.segments.length - 1]!.tempoBpm;
        const { map: next, effectiveBeat, effectiveTime } = applyTempoChange(map, Math.min(1000, current * factor), at);
        expect(effectiveBeat % map.barLength).toBe(0);
        expect(effectiveTime).toBeGreaterThan(at);
        expect(effectiveTime).toBe(timeOf(map, effectiveBeat, 0));
        for (let b = Math.max(0, effectiveBeat - 3 * map.barLength); b <= effectiveBeat; b++) {
          expect(timeOf(next, b, 0)).toBe(timeOf(map, b, 0));
        }
        expect(slot(next, effectiveBeat - 1, map.phases.length - 1).phaseEnd).toBe(effectiveTime);
      }),
    );
  });
});
