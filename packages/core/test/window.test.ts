import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downbeatOf, InvalidArgumentError, windowId, windowIdForBeat } from '@backbeat/core';

describe('window id - BACKBEAT-REQ-005', () => {
  it('window id - matches fixed vectors', () => {
    expect(windowId('chorus-aus-01', 0)).toBe('63cb2c5b1bbba231251cb8d7d653c399');
    expect(windowIdForBeat('test', 17, 8)).toBe('91ff735b4bf06ded2c0b23b421abba31');
  });

  it('window id - is the first 32 hex chars of sha256(cluster:downbeat)', () => {
    for (const [cluster, beat] of [['chorus-aus-01', 8], ['test', 16], ['a', 123456]] as const) {
      const full = createHash('sha256').update(`${cluster}:${beat}`).digest('hex');
      expect(windowId(cluster, beat)).toBe(full.slice(0, 32));
      expect(windowId(cluster, beat)).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('window id - every beat of a bar shares its downbeat window, beat 0 included', () => {
    const ids = new Set(Array.from({ length: 8 }, (_, i) => windowIdForBeat('c', i, 8)));
    expect([...ids]).toEqual([windowId('c', 0)]);
    expect(windowIdForBeat('c', 8, 8)).not.toBe(windowId('c', 0));
    expect(downbeatOf(15, 8)).toBe(8);
  });

  it('window id - rejects negative or fractional indices', () => {
    expect(() => windowId('c', -1)).toThrow(InvalidArgumentError);
    expect(() => windowId('c', 1.5)).toThrow(/downbeatIndex/);
    expect(() => downbeatOf(3, 0)).toThrow(/barLength/);
  });
});
