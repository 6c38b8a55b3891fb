import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyTempoChange,
  changeTempo,
  createTempoMap,
  nextSlot,
  pendingTempoChange,
  positionAt,
  slot,
  TempoChangeError,
  tempoAt,
  timeOf,
  validateTempoChange,
  type TempoMap,
} from '@backbeat/core';
import { arbMap } from './arbitraries.js';

const T0 = 1_700_000_000_000;
const map = createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 8 });
const rules = { minBpm: 4, maxBpm: 24, at: T0 + 1000 };

function refusal(fn: () => void): TempoChangeError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TempoChangeError) return err;
    throw err;
  }
  return undefined;
}

describe('tempo change - BACKBEAT-REQ-004 rules', () => {
  it('tempo change - refuses a tempo outside [min, max]', () => {
    const slow = createTempoMap({ startTime: T0, tempoBpm: 4.2 });
    const low = refusal(() => validateTempoChange(slow, { ...rules, tempoBpm: 3.9 }));
    expect(low?.code).toBe('BB_ERR_TEMPO_OUT_OF_RANGE');
    expect(low?.context).toMatchObject({
      field: 'tempo_bpm',
      rule: 'range',
      requested: 3.9,
      current: 4.2,
      allowed: { minBpm: 4, maxBpm: 24 },
    });
    expect(low?.message).toBe('tempo_bpm must be from 4 to 24 BPM, got 3.9');
    const fast = createTempoMap({ startTime: T0, tempoBpm: 23 });
    expect(refusal(() => validateTempoChange(fast, { ...rules, tempoBpm: 24.5 }))?.code).toBe(
      'BB_ERR_TEMPO_OUT_OF_RANGE',
    );
    expect(refusal(() => validateTempoChange(map, { ...rules, tempoBpm: Number.NaN }))?.code).toBe(
      'BB_ERR_TEMPO_OUT_OF_RANGE',
    );
  });

  it('tempo change - allows exactly 10 %, refuses more', () => {
    for (const ok of [13.2, 10.8, 12, 12.5])
      expect(
        refusal(() => validateTempoChange(map, { ...rules, tempoBpm: ok })),
        `${ok}`,
      ).toBeUndefined();
    for (const bad of [13.21, 10.79, 20])
      expect(refusal(() => validateTempoChange(map, { ...rules, tempoBpm: bad }))?.code, `${bad}`).toBe(
        'BB_ERR_TEMPO_DELTA_TOO_LARGE',
      );
  });

  it('tempo change - ±10 % is of the tempo in force at the time of the request', () => {
    const changed = applyTempoChange(map, 13, T0).map; // 13 BPM from beat 8 (T0 + 40 s)
    const before = { ...rules, at: T0 + 39_000, pending: false };
    const after = { ...rules, at: T0 + 41_000 };
    expect(refusal(() => validateTempoChange(changed, { ...after, tempoBpm: 14.3 }))).toBeUndefined();
    expect(refusal(() => validateTempoChange(changed, { ...before, tempoBpm: 14.3 }))?.code).toBe(
      'BB_ERR_TEMPO_CHANGE_PENDING',
    );
  });

  it('tempo change - the delta error names the field, the rule and what is allowed, for an operator', () => {
    const err = refusal(() => validateTempoChange(map, { ...rules, tempoBpm: 20 }))!;
    expect(err.context).toEqual({
      field: 'tempo_bpm',
      rule: 'delta',
      requested: 20,
      current: 12,
      allowed: { minBpm: 10.8, maxBpm: 13.2 },
    });
    expect(err.message).toBe(
      'tempo_bpm may change by at most 10% of the current 12 BPM at once (10.8 to ' +
        '13.2), got 20; make larger changes in steps, one per bar',
    );
  });

  it('tempo change - one pending change at a time: told by the caller or found on the map', () => {
    expect(refusal(() => validateTempoChange(map, { ...rules, tempoBpm: 12.5, pending: true }))?.code).toBe(
      'BB_ERR_TEMPO_CHANGE_PENDING',
    );
    const placed = applyTempoChange(map, 13, T0 + 1000).map;
    expect(pendingTempoChange(placed, T0 + 1000)).toEqual({ startBeat: 8, startTime: T0 + 40_000, tempoBpm: 13 });
    const err = refusal(() => validateTempoChange(placed, { ...rules, tempoBpm: 12.5 }))!;
    expect(err.code).toBe('BB_ERR_TEMPO_CHANGE_PENDING');
    expect(err.context.rule).toBe('pending');
    expect(err.message).toMatch(/already pending .*13 BPM at 2023-11-14T22:14:00\.000Z/);
    expect(pendingTempoChange(placed, T0 + 40_000)).toBeUndefined(); // in force from its downbeat on
    // a grid not yet started is no change
    expect(pendingTempoChange(createTempoMap({ startTime: T0 + 5000, tempoBpm: 12 }), T0)).toBeUndefined();
  });

  it('tempo change - rejects nonsense limits', () => {
    expect(() => validateTempoChange(map, { at: T0, tempoBpm: 12, minBpm: 24, maxBpm: 4 })).toThrow(/minBpm/);
  });
});

describe('tempo change - placement at the next downbeat', () => {
  it('tempo change - applies at the next downbeat and keeps its time', () => {
    const { map: next, effectiveBeat, effectiveTime } = applyTempoChange(map, 13, T0 + 12_000); // during beat 2
    expect(effectiveBeat).toBe(8);
    expect(effectiveTime).toBe(T0 + 40_000);
    expect(tempoAt(next, effectiveTime - 1)).toBe(12);
    expect(tempoAt(next, effectiveTime)).toBe(13);
    expect(slot(next, 7, 2)).toMatchObject({ tempoBpm: 12, phaseEnd: T0 + 40_000 });
    expect(slot(next, 8, 0)).toMatchObject({ tempoBpm: 13, phaseStart: T0 + 40_000, downbeat: true });
    expect(timeOf(next, 9, 0)).toBeCloseTo(T0 + 40_000 + 60_000 / 13, 6);
  });

  it('tempo change - a request exactly on a downbeat waits for the next one', () => {
    expect(applyTempoChange(map, 13, T0 + 40_000)).toMatchObject({ effectiveBeat: 16, effectiveTime: T0 + 80_000 });
    expect(applyTempoChange(map, 13, T0 + 39_999.999)).toMatchObject({ effectiveBeat: 8 });
    expect(applyTempoChange(map, 13, T0)).toMatchObject({ effectiveBeat: 8 }); // beat 0 is a downbeat too
  });

  it('tempo change - before the grid starts, the change applies at its first downbeat', () => {
    expect(applyTempoChange(map, 13, T0 - 5000)).toMatchObject({
      effectiveBeat: 0,
      effectiveTime: T0,
      map: { segments: [{ startBeat: 0, tempoBpm: 13 }] },
    });
    const late = createTempoMap({ startTime: T0, startBeat: 3, tempoBpm: 12 });
    expect(applyTempoChange(late, 13, T0 - 5000)).toMatchObject({ effectiveBeat: 8, effectiveTime: T0 + 25_000 });
  });

  it('tempo change - placing the same change twice gives the same map', () => {
    const once = applyTempoChange(map, 13, T0 + 1000);
    expect(applyTempoChange(once.map, 13, T0 + 2000)).toEqual(once);
  });

  it('tempo change - changeTempo validates, then places', () => {
    expect(changeTempo(map, { ...rules, tempoBpm: 13.2 })).toMatchObject({ effectiveBeat: 8 });
    expect(refusal(() => changeTempo(map, { ...rules, tempoBpm: 14 }))?.code).toBe('BB_ERR_TEMPO_DELTA_TOO_LARGE');
  });

  it('tempo change - the map keeps at most maxSegments, without moving any time from the request on', () => {
    let m: TempoMap = map;
    for (let i = 0; i < 30; i++)
      m = applyTempoChange(m, i % 2 ? 12 : 12.5, m.segments.at(-1)!.startTime, { maxSegments: 5 }).map;
    expect(m.segments).toHaveLength(5);
    const full = (() => {
      let f: TempoMap = map;
      for (let i = 0; i < 30; i++)
        f = applyTempoChange(f, i % 2 ? 12 : 12.5, f.segments.at(-1)!.startTime, { maxSegments: 100 }).map;
      return f;
    })();
    const from = m.segments[0]!.startBeat;
    for (let b = from; b < from + 80; b++) expect(timeOf(m, b, 2)).toBe(timeOf(full, b, 2));
    expect(() => applyTempoChange(map, 13, T0, { maxSegments: 1 })).toThrow(/maxSegments/);
  });
});

describe('tempo change - properties', () => {
  it('tempo change - keeps the grid continuous: earlier slots unchanged, no gap or overlap at the downbeat', () => {
    fc.assert(
      fc.property(
        arbMap,
        fc.double({ min: 0, max: 200_000, noNaN: true }),
        fc.double({ min: 0.9, max: 1.1, noNaN: true }),
        (m, after, factor) => {
          const last = m.segments.at(-1)!;
          const at = last.startTime + after;
          const bpm = Math.min(1000, Math.max(0.1, last.tempoBpm * factor));
          const { map: next, effectiveBeat, effectiveTime } = applyTempoChange(m, bpm, at);
          expect(effectiveBeat % m.barLength).toBe(0);
          expect(effectiveBeat).toBeGreaterThan(positionAt(m, at)!.beatIndex);
          expect(effectiveBeat - positionAt(m, at)!.beatIndex).toBeLessThanOrEqual(m.barLength);
          expect(effectiveTime).toBeGreaterThan(at);
          expect(effectiveTime).toBe(timeOf(m, effectiveBeat, 0));
          expect(next.segments.at(-1)).toEqual({ startBeat: effectiveBeat, startTime: effectiveTime, tempoBpm: bpm });
          for (let b = Math.max(m.segments[0]!.startBeat, effectiveBeat - 2 * m.barLength); b < effectiveBeat; b++) {
            for (let k = 0; k < m.phases.length; k++) expect(slot(next, b, k)).toEqual(slot(m, b, k));
          }
          const lastOld = slot(next, effectiveBeat - 1, m.phases.length - 1);
          expect(lastOld.phaseEnd).toBe(effectiveTime);
          expect(nextSlot(next, lastOld).phaseStart).toBe(effectiveTime);
          expect(positionAt(next, effectiveTime)).toMatchObject({
            beatIndex: effectiveBeat,
            phaseIndex: 0,
            tempoBpm: bpm,
          });
        },
      ),
    );
  });

  it('tempo change - any sequence of valid changes keeps slot times strictly increasing', () => {
    const arbSteps = fc.array(
      fc.record({
        after: fc.double({ min: 0, max: 60_000, noNaN: true }),
        factor: fc.double({ min: 0.5, max: 1.5, noNaN: true }),
      }),
      {
        minLength: 1,
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(
        fc.double({ min: 4, max: 24, noNaN: true }),
        fc.integer({ min: 1, max: 8 }),
        arbSteps,
        (bpm, bar, steps) => {
          let m = createTempoMap({ startTime: T0, tempoBpm: bpm, barLength: bar });
          let at = T0;
          let accepted = 0;
          for (const { after, factor } of steps) {
            at += after;
            try {
              m = changeTempo(m, { tempoBpm: tempoAt(m, at) * factor, at, minBpm: 4, maxBpm: 24 }).map;
              accepted++;
            } catch (err) {
              expect(err).toBeInstanceOf(TempoChangeError); // refused by a rule: the map is unchanged
            }
          }
          expect(m.segments.length).toBeLessThanOrEqual(accepted + 1);
          const end = m.segments.at(-1)!.startBeat + 2 * bar;
          let prev = slot(m, 0, 0);
          for (let s = nextSlot(m, prev); s.beatIndex <= end; s = nextSlot(m, s)) {
            expect(s.phaseStart).toBeGreaterThan(prev.phaseStart);
            expect(s.phaseStart).toBe(prev.phaseEnd);
            expect(positionAt(m, s.phaseStart)).toMatchObject({ beatIndex: s.beatIndex, phaseIndex: s.phaseIndex });
            expect(s.tempoBpm).toBeGreaterThanOrEqual(4);
            expect(s.tempoBpm).toBeLessThanOrEqual(24);
            prev = s;
          }
        },
      ),
    );
  });
});
