import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareHlc,
  FakeClock,
  fillHlcHole,
  formatHlc,
  Hlc,
  HLC_PLACEHOLDER,
  hlcHole,
  hlcInHole,
  hlcNodeSuffix,
  InvalidArgumentError,
  parseHlc,
  type HlcTimestamp,
} from '@backbeat/core';
import { HLC_MAX_COUNTER } from '@backbeat/core/internal';

const T0 = 1_700_000_000_000;
const arbStamp = fc.record({
  physical: fc.nat({ max: 2 ** 48 }),
  logical: fc.nat({ max: 2 ** 32 }),
  node: fc.stringMatching(/^[0-9a-f]{4,16}$/),
});

describe('hlc - wire form', () => {
  it('hlc - parses the seed example', () => {
    expect(parseHlc('7ffd:0001:abcd')).toEqual({ physical: 0x7ffd, logical: 1, node: 'abcd' });
  });

  it('hlc - formats lower-case hex, each group padded to at least 4 digits', () => {
    expect(formatHlc({ physical: 0x1a, logical: 0, node: 'ab' })).toBe('001a:0000:00ab');
    expect(formatHlc({ physical: T0, logical: 3, node: 'deadbeef' })).toBe('18bcfe56800:0003:deadbeef');
    expect(formatHlc({ physical: HLC_MAX_COUNTER, logical: HLC_MAX_COUNTER, node: 'ffffffffffffffff' })).toBe(
      '1fffffffffffff:1fffffffffffff:ffffffffffffffff',
    );
  });

  it('hlc - rejects malformed stamps with a reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['7FFD:0001:abcd', /upper-case/],
      ['7ffd:01:abcd', /group 2 '01'/],
      ['7ffd:0001', /2 group/],
      ['x7ffd:0001:abcd', /group 1/],
      ['7ffd:0001:abcd:0000', /4 group/],
      ['11111111111111111:0000:0000', /group 1/],
      ['ffffffffffffffff:0000:0000', /beyond 2\^53/],
    ];
    for (const [bad, reason] of cases) {
      expect(() => parseHlc(bad), bad).toThrow(InvalidArgumentError);
      expect(() => parseHlc(bad), bad).toThrow(reason);
    }
  });

  it('hlc - refuses to format a timestamp that cannot be parsed back', () => {
    expect(() => formatHlc({ physical: -1, logical: 0, node: 'abcd' })).toThrow(/hlc.physical/);
    expect(() => formatHlc({ physical: 1, logical: 0.5, node: 'abcd' })).toThrow(/hlc.logical/);
    expect(() => formatHlc({ physical: 1, logical: 0, node: 'ABCD' })).toThrow(/hlc.node/);
  });

  it('hlc - format and parse round-trip', () => {
    fc.assert(
      fc.property(arbStamp, (ts) => {
        expect(parseHlc(formatHlc(ts))).toEqual(ts);
      }),
    );
  });

  it('hlc - node suffix keeps hex ids (lower-cased) and hashes others', () => {
    expect(hlcNodeSuffix('abcd')).toBe('abcd');
    expect(hlcNodeSuffix('ABCD12')).toBe('abcd12');
    expect(hlcNodeSuffix('pulse-1')).toMatch(/^[0-9a-f]{8}$/);
    expect(hlcNodeSuffix('pulse-1')).toBe(hlcNodeSuffix('pulse-1'));
    expect(hlcNodeSuffix('pulse-2')).not.toBe(hlcNodeSuffix('pulse-1'));
    expect(new Hlc('pulse-1').node).toBe(hlcNodeSuffix('pulse-1'));
  });
});

describe('hlc - ordering', () => {
  it('hlc - compares physical, then logical, then node', () => {
    const a = { physical: 5, logical: 9, node: 'ffff' };
    expect(compareHlc(a, { physical: 6, logical: 0, node: '0000' })).toBeLessThan(0);
    expect(compareHlc(a, { physical: 5, logical: 10, node: '0000' })).toBeLessThan(0);
    expect(
      compareHlc({ physical: 5, logical: 9, node: '00ff' }, { physical: 5, logical: 9, node: 'fff0' }),
    ).toBeLessThan(0);
    expect(compareHlc({ physical: 5, logical: 9, node: '00ff' }, { physical: 5, logical: 9, node: 'ff' })).toBe(0);
    expect(compareHlc(a, { ...a })).toBe(0);
  });

  it('hlc - the wire form of the stamps of one epoch sorts like compareHlc', () => {
    fc.assert(
      fc.property(arbStamp, arbStamp, (a, b) => {
        const sign = Math.sign(compareHlc(a, b));
        expect(Math.sign(compareHlc(parseHlc(formatHlc(a)), parseHlc(formatHlc(b))))).toBe(sign);
        expect(Math.sign(compareHlc(b, a))).toBe(-sign || 0);
      }),
    );
  });
});

describe('hlc - local events', () => {
  it('hlc - stays monotonic when the wall clock steps back 10 s', () => {
    const clock = new FakeClock(T0);
    const hlc = new Hlc('n1', { clock });
    const before = hlc.now();
    clock.setWall(clock.wallNow() - 10_000);
    const after = hlc.now();
    expect(compareHlc(after, before)).toBeGreaterThan(0);
    expect(after).toMatchObject({ physical: before.physical, logical: before.logical + 1 });
    clock.advance(10_001); // the wall clock catches up: physical moves on, logical resets
    expect(hlc.now()).toMatchObject({ physical: T0 + 1, logical: 0 });
  });

  it('hlc - readings strictly increase under any wall clock sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20_000, max: 20_000 }), { minLength: 1, maxLength: 100 }), (steps) => {
        const clock = new FakeClock(T0);
        const hlc = new Hlc('n1', { clock });
        let last = hlc.now();
        for (const step of steps) {
          clock.setWall(clock.wallNow() + step);
          const next = hlc.now();
          expect(compareHlc(next, last)).toBeGreaterThan(0);
          expect(compareHlc(parseHlc(hlc.nowString()), next)).toBeGreaterThan(0);
          last = hlc.peek();
        }
      }),
    );
  });

  it(
    'hlc - nowString is formatHlc of the reading it takes, for any node ' +
      'and wall clock sequence, with clocks interleaved',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat({ max: 2 }), fc.integer({ min: -3, max: 5000 })), { minLength: 1, maxLength: 60 }),
          fc.constantFrom('n1', 'abcd', 'ffffffffffffffff', 'agent:w-1'),
          (steps, nodeId) => {
            const clock = new FakeClock(0x0ff0);
            const clocks = [new Hlc(nodeId, { clock }), new Hlc('other', { clock }), new Hlc('0001', { clock })];
            for (const [which, step] of steps) {
              clock.setWall(clock.wallNow() + step);
              const hlc = clocks[which]!;
              const s = hlc.nowString();
              expect(s).toBe(formatHlc(hlc.peek()));
            }
          },
        ),
      );
    },
  );

  it('hlc - a logical counter at its limit moves the physical part instead of overflowing', () => {
    const clock = new FakeClock(T0);
    const hlc = new Hlc('n1', { clock });
    hlc.update({ physical: T0, logical: HLC_MAX_COUNTER - 1, node: 'beef' });
    const next = hlc.now();
    expect(next).toMatchObject({ physical: T0 + 1, logical: 0 });
    expect(() => formatHlc(next)).not.toThrow();
  });

  it('hlc - rejects an empty node id and a negative bound', () => {
    expect(() => new Hlc('')).toThrow(/nodeId/);
    expect(() => new Hlc('n', { maxForwardSkewMs: -1 })).toThrow(/maxForwardSkewMs/);
  });
});

describe('hlc - receive', () => {
  it('hlc - adopts a remote 4 s ahead, refuses one 6 s ahead and counts it', () => {
    const clock = new FakeClock(T0);
    const hlc = new Hlc('n1', { clock });
    const wall = clock.wallNow();
    const near = hlc.update({ physical: wall + 4000, logical: 7, node: 'beef' });
    expect(near).toMatchObject({ adopted: true, skewMs: 4000, timestamp: { physical: wall + 4000, logical: 8 } });

    const far = hlc.update(formatHlc({ physical: wall + 6000, logical: 0, node: 'beef' }));
    expect(far).toMatchObject({ adopted: false, skewMs: 6000 });
    expect(far.timestamp).toMatchObject({ physical: wall + 4000, logical: 9 }); // the local clock still ticked
    expect(hlc.rejectedCount).toBe(1);
  });

  it('hlc - the bound is configurable, and exactly the bound is adopted', () => {
    const clock = new FakeClock(T0);
    const hlc = new Hlc('n1', { clock, maxForwardSkewMs: 1000 });
    expect(hlc.update({ physical: T0 + 1000, logical: 0, node: 'beef' }).adopted).toBe(true);
    expect(hlc.update({ physical: T0 + 1001 + 1000, logical: 0, node: 'beef' }).adopted).toBe(false);
  });

  it('hlc - a remote far ahead of the wall clock but not of the local HLC merges', () => {
    const clock = new FakeClock(T0);
    const hlc = new Hlc('n1', { clock });
    hlc.now();
    clock.setWall(T0 - 10_000); // the local wall clock stepped back; the HLC did not
    const u = hlc.update({ physical: T0, logical: 5, node: 'beef' });
    expect(u).toMatchObject({ adopted: true, skewMs: 10_000, timestamp: { physical: T0, logical: 6 } });
  });

  it('hlc - rejects a malformed remote stamp', () => {
    const hlc = new Hlc('n1', { clock: new FakeClock(T0) });
    expect(() => hlc.update('7FFD:0001:abcd')).toThrow(InvalidArgumentError);
    expect(() => hlc.update({ physical: Number.NaN, logical: 0, node: 'abcd' } as HlcTimestamp)).toThrow(
      /hlc.physical/,
    );
  });

  it('hlc - an adopted update is after both the local and the remote reading', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -60_000, max: 5000 }),
        fc.nat({ max: 1000 }),
        fc.nat({ max: 5 }),
        fc.integer({ min: -3000, max: 3000 }),
        (offset, logical, ticks, wallStep) => {
          const clock = new FakeClock(T0);
          const hlc = new Hlc('aaaa', { clock });
          let local = hlc.now();
          for (let i = 0; i < ticks; i++) local = hlc.now();
          clock.setWall(clock.wallNow() + wallStep);
          const remote = { physical: clock.wallNow() + offset, logical, node: 'bbbb' }; // within the 5 s bound
          const { adopted, timestamp } = hlc.update(remote);
          expect(adopted).toBe(true);
          expect(compareHlc(timestamp, local)).toBeGreaterThan(0);
          expect(compareHlc(timestamp, remote)).toBeGreaterThan(0);
        },
      ),
    );
  });
});

describe('hlc - the placeholder splice (one rule for the pulse encoder and the SDK templates)', () => {
  const text = JSON.stringify({ type: 't', hlc: HLC_PLACEHOLDER, n: 1 });

  it('hlcHole - cuts at the one placeholder; fillHlcHole gives the text JSON.stringify would', () => {
    const hole = hlcHole(text)!;
    expect(hole).toEqual({ before: '{"type":"t","hlc":"', after: '","n":1}' });
    expect(fillHlcHole(hole, '7ffd:0001:abcd')).toBe(JSON.stringify({ type: 't', hlc: '7ffd:0001:abcd', n: 1 }));
  });

  it('hlcHole - null for a text with no placeholder or two', () => {
    expect(hlcHole('{"hlc":"x"}')).toBeNull();
    expect(hlcHole(`${HLC_PLACEHOLDER}${HLC_PLACEHOLDER}`)).toBeNull();
  });

  it('hlcInHole - reads back a well-formed HLC; null for any other text in the hole or around it', () => {
    const hole = hlcHole(text)!;
    expect(hlcInHole(hole, fillHlcHole(hole, '19a8f3c2b10:0000:9f86d081'))).toBe('19a8f3c2b10:0000:9f86d081');
    for (const bad of ['7FFD:0001:abcd', '7ffd:0001', '7ffd:0001:abcd", "x":"y', '', 'abc:0001:abcd']) {
      expect(hlcInHole(hole, fillHlcHole(hole, bad))).toBeNull();
    }
    expect(hlcInHole(hole, fillHlcHole(hole, '7ffd:0001:abcd').replace('"n":1', '"n":2'))).toBeNull();
  });

  it('hlcInHole - round-trips every wire HLC (property)', () => {
    const hole = hlcHole(text)!;
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.stringMatching(/^[0-9a-f]{4,16}$/), (physical, logical, node) => {
        const hlc = formatHlc({ physical, logical, node });
        expect(hlcInHole(hole, fillHlcHole(hole, hlc))).toBe(hlc);
      }),
    );
  });
});
