import { describe, expect, it } from 'vitest';
import { applyTempoChange, createTempoMap, pruneTempoMap, TempoChangeError, tempoAt, timeOf, validateTempoChange } from '@backbeat/core';

const T0 = 1_700_000_000_000;
const map = createTempoMap({ startTime: T0, tempoBpm: 12, barLength: 8 });
const rules = { minBpm: 4, maxBpm: 24, pending: false, at: T0 + 1000 };

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TempoChangeError) return err.code;
    throw err;
  }
  return undefined;
}

describe('tempo change - BACKBEAT-REQ-004 rules', () => {
  it('tempo change - refuses a tempo outside [min, max]', () => {
    const slow = createTempoMap({ startTime: T0, tempoBpm: 4.2 });
    expect(codeOf(() => validateTempoChange(slow, { ...rules, tempoBpm: 3.9 }))).toBe('BB_ERR_TEMPO_OUT_OF_RANGE');
    expect(codeOf(() => validateTempoChange(map, { ...rules, tempoBpm: Number.NaN }))).toBe('BB_ERR_TEMPO_OUT_OF_RANGE');
  });

  it('tempo change - allows exactly 10 %, refuses more', () => {
    expect(codeOf(() => validateTempoChange(map, { ...rules, tempoBpm: 13.2 }))).toBeUndefined();
    expect(codeOf(() => validateTempoChange(map, { ...rules, tempoBpm: 10.8 }))).toBeUndefined();
    expect(codeOf(() => validateTempoChange(map, { ...rules, tempoBpm: 13.21 }))).toBe('BB_ERR_TEMPO_DELTA_TOO_LARGE');
    expect(codeOf(() => validateTempoChange(map, { ...rules, tempoBpm: 10.79 }))).toBe('BB_ERR_TEMPO_DELTA_TOO_LARGE');
  });

  it('tempo change - refuses a second change while one is pending', () => {
    expect(codeOf(() => validateTempoChange(map, { ...rules, tempoBpm: 12.5, pending: true }))).toBe('BB_ERR_TEMPO_CHANGE_PENDING');
  });

  it('tempo change - the error names the field and rule', () => {
    try {
      validateTempoChange(map, { ...rules, tempoBpm: 20 });
      expect.unreachable();
    } catch (err) {
      expect((err as TempoChangeError).context).toMatchObject({ field: 'tempo_bpm', rule: 'delta', requested: 20, current: 12 });
      expect((err as Error).message).toMatch(/at most 10%/);
    }
  });
});

describe('tempo change - placement', () => {
  it('tempo change - applies at the next downbeat', () => {
    const { map: next, effectiveBeat, effectiveTime } = applyTempoChange(map, 13, T0 + 12_000); // beat 2
    expect(effectiveBeat).toBe(8);
    expect(effectiveTime).toBe(T0 + 40_000);
    expect(tempoAt(next, effectiveTime - 1)).toBe(12);
    expect(tempoAt(next, effectiveTime)).toBe(13);
    expect(timeOf(next, 9, 0)).toBeCloseTo(T0 + 40_000 + 60_000 / 13, 6);
  });

  it('tempo change - a request exactly on a downbeat waits for the next one', () => {
    expect(applyTempoChange(map, 13, T0 + 40_000).effectiveBeat).toBe(16);
  });

  it('tempo change - pruning keeps every future time', () => {
    const a = applyTempoChange(map, 13, T0 + 1000).map;
    const b = applyTempoChange(a, 14, T0 + 50_000).map;
    const pruned = pruneTempoMap(b, T0 + 100_000);
    expect(pruned.segments.length).toBeLessThan(b.segments.length);
    for (let beat = 20; beat < 40; beat++) expect(timeOf(pruned, beat, 1)).toBe(timeOf(b, beat, 1));
  });
});
