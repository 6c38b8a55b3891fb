import { describe, expect, it } from 'vitest';
import { FakeClock, systemClock } from '@backbeat/core';
import { PREPARE_LEAD_MS, SETTLE_DELAY_MS, SlotTimer } from '@backbeat/sdk/internal';

describe('sdk slot timer - one timer per process', () => {
  it(
    'slot timer - prepares run before the instant, callbacks at it ' + 'with one firedAt, each once, bookkeeping after',
    () => {
      const clock = new FakeClock(0);
      const timer = new SlotTimer(clock);
      const log: string[] = [];
      for (const id of ['a', 'b', 'c']) {
        const cb = (firedAt: number) => {
          log.push(`call:${id}@${clock.now()}/${firedAt}`);
          timer.afterFire(() => log.push(`after:${id}@${clock.now()}`));
        };
        timer.at(100, cb, () => log.push(`prepare:${id}@${clock.now()}`));
        timer.at(100, cb); // the same callback twice for one instant is one call
      }
      timer.at(
        100,
        () => {
          throw new Error('one client throws');
        },
        () => {
          throw new Error('and its prepare too');
        },
      );
      clock.advance(99);
      expect(log).toEqual([
        `prepare:a@${100 - PREPARE_LEAD_MS}`,
        `prepare:b@${100 - PREPARE_LEAD_MS}`,
        `prepare:c@${100 - PREPARE_LEAD_MS}`,
      ]);
      clock.advance(1);
      expect(log.slice(3)).toEqual(['call:a@100/100', 'call:b@100/100', 'call:c@100/100']);
      clock.advance(SETTLE_DELAY_MS);
      expect(log.slice(6)).toEqual([
        `after:a@${100 + SETTLE_DELAY_MS}`,
        `after:b@${100 + SETTLE_DELAY_MS}`,
        `after:c@${100 + SETTLE_DELAY_MS}`,
      ]);
      expect(timer.size).toBe(0);
    },
  );

  it(
    'slot timer - a cancelled callback is neither prepared nor called; an ' +
      'instant added after the lead is prepared at once',
    () => {
      const clock = new FakeClock(0);
      const timer = new SlotTimer(clock);
      const log: string[] = [];
      const cancel = timer.at(
        50,
        () => log.push('x'),
        () => log.push('prepare:x'),
      );
      timer.at(50, () => log.push('y'));
      cancel();
      clock.advance(49);
      timer.at(
        50,
        () => log.push('z'),
        () => log.push('prepare:z'),
      );
      clock.advance(10);
      expect(log).toEqual(['prepare:z', 'y', 'z']);
    },
  );

  it('slot timer - prepares that run long stop before the instant: the callbacks are not late for them', () => {
    const clock = new FakeClock(0);
    const timer = new SlotTimer(clock);
    let prepared = 0;
    let calledAt = -1;
    for (let i = 0; i < 200; i++)
      timer.at(
        20,
        () => (calledAt = clock.now()),
        () => (prepared++, clock.stall(0.05)),
      );
    clock.advance(30);
    expect(prepared).toBeGreaterThan(0);
    expect(prepared).toBeLessThan(200);
    expect(calledAt).toBeGreaterThanOrEqual(20);
    expect(calledAt).toBeLessThan(20 + 32 * 0.05 + 0.001);
  });

  it('slot timer - on the real clock, never before the instant', async () => {
    const timer = new SlotTimer(systemClock);
    const t = systemClock.now() + 8;
    const seen = await new Promise<{ firedAt: number; now: number; preparedAt: number }>((resolve) => {
      let preparedAt = NaN;
      timer.at(
        t,
        (firedAt) => resolve({ firedAt, now: systemClock.now(), preparedAt }),
        () => (preparedAt = systemClock.now()),
      );
    });
    // A prepare never runs at or after its instant: on a busy machine whose timer woke later than
    // PREPARE_LEAD_MS before it, it is skipped (NaN here) and the callback does that work.
    expect(
      Number.isNaN(seen.preparedAt) || seen.preparedAt < t,
      `prepared at ${seen.preparedAt - t} ms from the instant`,
    ).toBe(true);
    expect(seen.firedAt).toBeGreaterThanOrEqual(t);
    expect(seen.now).toBeGreaterThanOrEqual(t);
  });
});
