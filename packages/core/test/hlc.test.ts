import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareHlc, FakeClock, formatHlc, Hlc, hlcNodeSuffix, parseHlc } from '@backbeat/core';

describe('hlc - wire form', () => {
  it('hlc - parses the seed example', () => {
    expect(parseHlc('7ffd:0001:abcd')).toEqual({ physical: 0x7ffd, logical: 1, node: 'abcd' });
  });

  it('hlc - formats with at least 4 lower-case hex digits per group', () => {
    expect(formatHlc({ physical: 0x1a, logical: 0, node: 'ab' })).toBe('001a:0000:00ab');
    expect(formatHlc({ physical: 1_700_000_000_000, logical: 3, node: 'deadbeef' })).toBe('18bcfe56800:0003:deadbeef');
  });

  it('hlc - rejects malformed stamps with a reason', () => {
    for (const bad of ['7FFD:0001:abcd', '7ffd:01:abcd', '7ffd:0001', 'x7ffd:0001:abcd', '7ffd:0001:abcd:0000', '11111111111111111:0000:0000']) {
      expect(() => parseHlc(bad), bad).toThrow(/hlc/);
    }
  });

  it('hlc - format and parse round-trip', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 48 }), fc.nat({ max: 2 ** 32 }), fc.stringMatching(/^[0-9a-f]{4,16}$/), (physical, logical, node) => {
        const ts = { physical, logical, node };
        expect(parseHlc(formatHlc(ts))).toEqual(ts);
      }),
    );
  });

  it('hlc - node suffix keeps hex ids and hashes others', () => {
    expect(hlcNodeSuffix('abcd')).toBe('abcd');
    expect(hlcNodeSuffix('pulse-1')).toMatch(/^[0-9a-f]{8}$/);
    expect(hlcNodeSuffix('pulse-1')).toBe(hlcNodeSuffix('pulse-1'));
  });
});

describe('hlc - ordering', () => {
  it('hlc - compares physical, then logical, then node', () => {
    const a = { physical: 5, logical: 9, node: 'ffff' };
    expect(compareHlc(a, { physical: 6, logical: 0, node: '0000' })).toBeLessThan(0);
    expect(compareHlc(a, { physical: 5, logical: 10, node: '0000' })).toBeLessThan(0);
    expect(compareHlc({ physical: 5, logical: 9, node: '00ff' }, { physical: 5, logical: 9, node: 'fff0' })).toBeLessThan(0);
    expect(compareHlc(a, { ...a })).toBe(0);
  });

  it('hlc - stays monotonic when the wall clock steps back 10 s', () => {
    const clock = new FakeClock(1_700_000_000_000);
    const hlc = new Hlc('n1', { clock });
    const before = hlc.now();
    clock.setWall(clock.wallNow() - 10_000);
    const after = hlc.now();
    expect(compareHlc(after, before)).toBeGreaterThan(0);
    expect(after.physical).toBe(before.physical);
    expect(after.logical).toBe(before.logical + 1);
  });

  it('hlc - readings strictly increase under any wall clock sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20_000, max: 20_000 }), { minLength: 1, maxLength: 100 }), (steps) => {
        const clock = new FakeClock(1_700_000_000_000);
        const hlc = new Hlc('n1', { clock });
        let last = hlc.now();
        for (const step of steps) {
          clock.setWall(clock.wallNow() + step);
          const next = hlc.now();
          expect(compareHlc(next, last)).toBeGreaterThan(0);
          last = next;
        }
      }),
    );
  });
});

describe('hlc - receive', () => {
  it('hlc - adopts a remote 4 s ahead, refuses one 6 s ahead', () => {
    const clock = new FakeClock(1_700_000_000_000);
    const hlc = new Hlc('n1', { clock });
    const wall = clock.wallNow();
    const near = hlc.update({ physical: wall + 4000, logical: 7, node: 'beef' });
    expect(near).toMatchObject({ adopted: true, skewMs: 4000 });
    expect(near.timestamp).toMatchObject({ physical: wall + 4000, logical: 8 });

    const far = hlc.update(formatHlc({ physical: wall + 6000 + 4000, logical: 0, node: 'beef' }));
    expect(far.adopted).toBe(false);
    expect(far.timestamp.physical).toBe(wall + 4000);
    expect(hlc.rejectedCount).toBe(1);
  });

  it('hlc - an update is after both the local and the remote reading', () => {
    fc.assert(
      fc.property(fc.integer({ min: -4000, max: 4000 }), fc.nat({ max: 1000 }), fc.nat({ max: 5 }), (offset, logical, ticks) => {
        const clock = new FakeClock(1_700_000_000_000);
        const hlc = new Hlc('aaaa', { clock });
        let local = hlc.now();
        for (let i = 0; i < ticks; i++) local = hlc.now();
        const remote = { physical: clock.wallNow() + offset, logical, node: 'bbbb' };
        const { adopted, timestamp } = hlc.update(remote);
        expect(adopted).toBe(true);
        expect(compareHlc(timestamp, local)).toBeGreaterThan(0);
        expect(compareHlc(timestamp, remote)).toBeGreaterThan(0);
      }),
    );
  });
});
