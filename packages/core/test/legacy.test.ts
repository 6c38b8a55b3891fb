import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromLegacy, toLegacy } from '@backbeat/core';

describe('legacy {bar, beat} - BACKBEAT-REQ-043', () => {
  it('legacy - bar and beat are 1-based', () => {
    expect(toLegacy(0, 8)).toEqual({ bar: 1, beat: 1 });
    expect(toLegacy(7, 8)).toEqual({ bar: 1, beat: 8 });
    expect(toLegacy(8, 8)).toEqual({ bar: 2, beat: 1 });
    expect(toLegacy(9, 8)).toEqual({ bar: 2, beat: 2 });
    expect(toLegacy(5, 1)).toEqual({ bar: 6, beat: 1 });
  });

  it('legacy - rejects values outside the rules', () => {
    expect(() => toLegacy(-1, 8)).toThrow(/beatIndex/);
    expect(() => toLegacy(3, 0)).toThrow(/barLength/);
    expect(() => fromLegacy({ bar: 1, beat: 9 }, 8)).toThrow(/beat/);
    expect(() => fromLegacy({ bar: 0, beat: 1 }, 8)).toThrow(/bar/);
    expect(() => fromLegacy({ bar: 1, beat: 1 }, Number.NaN)).toThrow(/barLength/);
  });

  it('legacy - fromLegacy inverts toLegacy', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1e12 }), fc.integer({ min: 1, max: 10_000 }), (i, len) => {
        expect(fromLegacy(toLegacy(i, len), len)).toBe(i);
      }),
    );
  });
});
