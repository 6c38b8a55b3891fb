import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downbeatOf, InvalidArgumentError, windowId, windowIdForBeat } from '@backbeat/core';

// Computed once with sha256 and hard-coded: a change in the derivation breaks these.
const VECTORS: ReadonlyArray<readonly [string, number, string]> = [
  ['chorus-aus-01', 0, '63cb2c5b1bbba231251cb8d7d653c399'],
  ['chorus-aus-01', 8, '9e3a4f63e65571fe2ad13d750f55f75b'],
  ['chorus-aus-01', 16, 'd1fbb9a845ef27e62d99bf566d322e19'],
  ['test', 0, 'd13a029069efc84c2f99c169af8f2d1d'],
  ['test', 8, '6dd77cea2228c2e319106a2bbb60dc74'],
  ['test', 16, '91ff735b4bf06ded2c0b23b421abba31'],
];

describe('window id - BACKBEAT-REQ-005', () => {
  it.each(VECTORS)('window id - %s downbeat %i is %s', (cluster, downbeat, expected) => {
    expect(windowId(cluster, downbeat)).toBe(expected);
  });

  it('window id - is the first 32 hex chars of sha256(cluster:downbeat)', () => {
    for (const [cluster, beat] of [
      ['chorus-aus-01', 24],
      ['a', 123456],
    ] as const) {
      const full = createHash('sha256').update(`${cluster}:${beat}`).digest('hex');
      expect(windowId(cluster, beat)).toBe(full.slice(0, 32));
    }
  });

  it('window id - every beat of a bar shares its downbeat window, beat 0 included', () => {
    const ids = new Set(Array.from({ length: 8 }, (_, i) => windowIdForBeat('test', i, 8)));
    expect([...ids]).toEqual(['d13a029069efc84c2f99c169af8f2d1d']);
    expect(windowIdForBeat('test', 17, 8)).toBe('91ff735b4bf06ded2c0b23b421abba31');
    expect(downbeatOf(15, 8)).toBe(8);
    expect(downbeatOf(16, 8)).toBe(16);
  });

  it('window id - rejects negative or fractional indices and bad bar lengths', () => {
    expect(() => windowId('c', -1)).toThrow(InvalidArgumentError);
    expect(() => windowId('c', 1.5)).toThrow(/downbeatIndex/);
    expect(() => downbeatOf(3, 0)).toThrow(/barLength/);
    expect(() => windowIdForBeat('c', -8, 8)).toThrow(/beatIndex/);
  });
});
