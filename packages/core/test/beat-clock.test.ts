import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSlots,
  createTempoMap,
  firstBeat,
  nextDownbeat,
  nextSlot,
  positionAt,
  slot,
  slotAfter,
  slotAtOrAfter,
  slotsBetween,
  slotsFrom,
  timeOf,
  windowId,
} from '@backbeat/core';
import { arbMap, beatOn, prevDouble } from './arbitraries.js';

const T0 = 1_700_000_000_000;

describe('beat clock - 12 BPM (5 s beats, 1666.67 ms phases)', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 8 });

  it('beat clock - beats start every 5 s from the segment start', () => {
    expect(timeOf(map, 0)).toBe(T0);
    expect(timeOf(map, 1, 0)).toBe(T0 + 5000);
    expect(timeOf(map, 720, 0)).toBe(T0 + 3_600_000); // an hour later, computed, not accumulated
    expect(timeOf(map, 3, 1)).toBeCloseTo(T0 + 15_000 + 1666.667, 2);
    expect(timeOf(map, 3, 3)).toBe(T0 + 20_000); // phaseIndex = P: the end of the beat
  });

  it('beat clock - a slot has its phase, deadline, bar and window', () => {
    const s = slot(map, 3, 1);
    expect(s).toMatchObject({
      beatIndex: 3,
      phaseIndex: 1,
      phase: 'execute',
      tempoBpm: 12,
      beatStart: T0 + 15_000,
      downbeat: false,
    });
    expect(s).toMatchObject({ barIndex: 0, beatInBar: 3, downbeatIndex: 0 });
    expect(s.phaseStart).toBeCloseTo(T0 + 16_666.667, 2);
    expect(s.phaseEnd).toBeCloseTo(T0 + 18_333.333, 2);
    expect(slot(map, 0, 2).phaseEnd).toBe(timeOf(map, 1, 0)); // the review deadline is the next beat
    expect(windowId('chorus-aus-01', slot(map, 7, 2).downbeatIndex)).toBe('63cb2c5b1bbba231251cb8d7d653c399');
  });

  it('beat clock - downbeats every bar, beat 0 included', () => {
    expect(slot(map, 0, 0).downbeat).toBe(true);
    expect(slot(map, 8, 2)).toMatchObject({ downbeat: true, barIndex: 1, beatInBar: 0, downbeatIndex: 8 });
    expect(slot(map, 9, 0)).toMatchObject({ downbeat: false, barIndex: 1, beatInBar: 1 });
    expect(slot(map, 23, 1)).toMatchObject({ barIndex: 2, beatInBar: 7, downbeatIndex: 16 });
    expect(nextDownbeat(0, 8)).toBe(8);
    expect(nextDownbeat(7, 8)).toBe(8);
    expect(nextDownbeat(8, 8)).toBe(16);
  });

  it('beat clock - positionAt at, just before and just after phase boundaries', () => {
    expect(positionAt(map, T0)).toMatchObject({ beatIndex: 0, phase: 'plan' });
    expect(positionAt(map, T0 + 1666.66)).toMatchObject({ beatIndex: 0, phase: 'plan' });
    expect(positionAt(map, T0 + 1666.67)).toMatchObject({ beatIndex: 0, phase: 'execute' });
    expect(positionAt(map, prevDouble(T0 + 5000))).toMatchObject({ beatIndex: 0, phase: 'review' });
    expect(positionAt(map, T0 + 5000)).toMatchObject({ beatIndex: 1, phase: 'plan' });
  });

  it('beat clock - before the grid there is no position; the first slot is next', () => {
    expect(positionAt(map, T0 - 0.001)).toBeNull();
    expect(slotAtOrAfter(map, T0 - 1000)).toMatchObject({ beatIndex: 0, phaseIndex: 0 });
    expect(slotAfter(map, T0 - 1000)).toMatchObject({ beatIndex: 0, phaseIndex: 0 });
  });

  it('beat clock - the next slot at or after, and strictly after, an instant', () => {
    expect(slotAtOrAfter(map, T0 + 5000)).toMatchObject({ beatIndex: 1, phaseIndex: 0 });
    expect(slotAfter(map, T0 + 5000)).toMatchObject({ beatIndex: 1, phaseIndex: 1 });
    expect(slotAtOrAfter(map, T0 + 5001)).toMatchObject({ beatIndex: 1, phaseIndex: 1 });
    const first = [...take(slotsFrom(map, T0 + 13_000), 4)].map((s) => `${s.beatIndex}.${s.phase}`);
    expect(first).toEqual(['2.review', '3.plan', '3.execute', '3.review']);
  });

  it('beat clock - rejects out-of-range beats, phases and instants', () => {
    expect(() => slot(map, -1, 0)).toThrow(/beatIndex/);
    expect(() => slot(map, 1.5, 0)).toThrow(/beatIndex/);
    expect(() => slot(map, 0, 3)).toThrow(/phaseIndex/);
    expect(() => timeOf(map, 0, 4)).toThrow(/phaseIndex/);
    expect(() => timeOf(map, Number.NaN)).toThrow(/beatIndex/);
    expect(() => positionAt(map, Number.POSITIVE_INFINITY)).toThrow(/t: must be a finite/);
  });
});

describe('beat clock - other tempos and shapes', () => {
  it('beat clock - 120 BPM: 500 ms beats, 166.67 ms phases', () => {
    const fast = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    expect(timeOf(fast, 4)).toBe(T0 + 2000);
    expect(slot(fast, 4, 0)).toMatchObject({ downbeat: true, barIndex: 1 });
    expect(positionAt(fast, T0 + 1250)).toMatchObject({ beatIndex: 2, phaseIndex: 1, phase: 'execute' });
    expect(slotAtOrAfter(fast, T0 + 1250)).toMatchObject({ beatIndex: 2, phaseIndex: 2 });
    expect(slot(fast, 2, 2).phaseEnd - slot(fast, 2, 2).phaseStart).toBeCloseTo(166.667, 2);
  });

  it('beat clock - custom phases', () => {
    const two = createTempoMap({ startTime: T0, tempoBpm: 60, phases: ['plan', 'review'] });
    expect(slot(two, 0, 1)).toMatchObject({ phase: 'review', phaseStart: T0 + 500, phaseEnd: T0 + 1000 });
    const one = createTempoMap({ startTime: T0, tempoBpm: 60, phases: ['execute'] });
    expect(nextSlot(one, slot(one, 0, 0))).toMatchObject({ beatIndex: 1, phase: 'execute' });
  });

  it('beat clock - a grid that starts at a later beat', () => {
    const late = createTempoMap({ startTime: T0, startBeat: 100, tempoBpm: 60, barLength: 8 });
    expect(firstBeat(late)).toBe(100);
    expect(positionAt(late, T0)).toMatchObject({ beatIndex: 100, downbeat: false, downbeatIndex: 96 });
    expect(positionAt(late, T0 + 4000)).toMatchObject({ beatIndex: 104, downbeat: true });
    expect(positionAt(late, T0 - 1)).toBeNull();
  });
});

describe('beat clock - properties', () => {
  it('beat clock - slot start times strictly increase in grid order, each deadline is the next start', () => {
    fc.assert(
      fc.property(arbMap, fc.nat(), (map, pick) => {
        let prev = slot(map, beatOn(map, pick), 0);
        for (let i = 0; i < 40; i++) {
          const next = nextSlot(map, prev);
          expect(compareSlots(next, prev)).toBeGreaterThan(0);
          expect(next.phaseStart).toBeGreaterThan(prev.phaseStart);
          expect(next.phaseStart).toBe(prev.phaseEnd);
          prev = next;
        }
      }),
    );
  });

  it('beat clock - positionAt(timeOf(b, k)) is (b, k), and so is the last instant before the next slot', () => {
    fc.assert(
      fc.property(arbMap, fc.nat(), fc.nat({ max: 2 }), (map, pick, k0) => {
        const b = beatOn(map, pick);
        const k = k0 % map.phases.length;
        const s = slot(map, b, k);
        expect(positionAt(map, timeOf(map, b, k))).toMatchObject({ beatIndex: b, phaseIndex: k });
        expect(positionAt(map, (s.phaseStart + s.phaseEnd) / 2)).toMatchObject({ beatIndex: b, phaseIndex: k });
        expect(positionAt(map, prevDouble(s.phaseEnd))).toMatchObject({ beatIndex: b, phaseIndex: k });
        expect(positionAt(map, s.phaseEnd)).toMatchObject(nextSlot(map, s));
      }),
    );
  });

  it('beat clock - slotAtOrAfter and slotAfter agree with positionAt', () => {
    fc.assert(
      fc.property(arbMap, fc.double({ min: 0, max: 1, noNaN: true }), (map, f) => {
        const from = map.segments[0]!.startTime;
        const t = from + f * (map.segments.at(-1)!.startTime - from + 600_000);
        const at = positionAt(map, t)!;
        const after = slotAfter(map, t);
        expect(after).toEqual(nextSlot(map, at));
        expect(after.phaseStart).toBeGreaterThan(t);
        const atOrAfter = slotAtOrAfter(map, t);
        expect(atOrAfter.phaseStart).toBeGreaterThanOrEqual(t);
        expect(atOrAfter).toEqual(at.phaseStart === t ? at : after);
      }),
    );
  });
});

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const x of it) {
    yield x;
    if (--n <= 0) return;
  }
}

describe('beat clock - slots between two slots', () => {
  it('slotsBetween - counts the slots strictly between, across beats; 0 for neighbours, the same or backwards', () => {
    const map = createTempoMap({ startTime: 0, tempoBpm: 120 });
    expect(slotsBetween(map, { beatIndex: 0, phaseIndex: 0 }, { beatIndex: 0, phaseIndex: 1 })).toBe(0);
    expect(slotsBetween(map, { beatIndex: 0, phaseIndex: 2 }, { beatIndex: 1, phaseIndex: 0 })).toBe(0);
    expect(slotsBetween(map, { beatIndex: 0, phaseIndex: 1 }, { beatIndex: 2, phaseIndex: 0 })).toBe(4);
    expect(slotsBetween(map, { beatIndex: 5, phaseIndex: 1 }, { beatIndex: 5, phaseIndex: 1 })).toBe(0);
    expect(slotsBetween(map, { beatIndex: 5, phaseIndex: 1 }, { beatIndex: 4, phaseIndex: 0 })).toBe(0);
  });

  it('slotsBetween - equals the number of nextSlot steps minus one (property)', () => {
    const map = createTempoMap({ startTime: 0, tempoBpm: 90 });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 40 }),
        (b, p, n) => {
          let to = slot(map, b, p);
          for (let i = 0; i < n; i++) to = nextSlot(map, to);
          expect(slotsBetween(map, slot(map, b, p), to)).toBe(n - 1);
        },
      ),
    );
  });
});
