import { describe, expect, it } from 'vitest';
import { FakeClock, scheduleAt, systemClock } from '@backbeat/core';

describe('clock - FakeClock', () => {
  it('fake clock - fires timers in time order, nested ones included', () => {
    const clock = new FakeClock(0);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push('b@20'), 20);
    clock.setTimeout(() => {
      seen.push('a@10');
      clock.setTimeout(() => seen.push('c@15'), 5);
    }, 10);
    const cancelled = clock.setTimeout(() => seen.push('never'), 12);
    clock.clearTimeout(cancelled);
    clock.advance(30);
    expect(seen).toEqual(['a@10', 'c@15', 'b@20']);
    expect(clock.now()).toBe(30);
    expect(clock.pending).toBe(0);
  });

  it('fake clock - stops a timer loop that never ends', () => {
    const clock = new FakeClock(0);
    const loop = () => clock.setTimeout(loop, 0);
    loop();
    expect(() => clock.advanceTo(1, 100)).toThrow(/more than 100/);
  });

  it('scheduleAt - fires at the absolute time on a fake clock, and can be cancelled', () => {
    const clock = new FakeClock(1000);
    const fired: number[] = [];
    scheduleAt(clock, 1500, (at) => fired.push(at), { precise: true });
    const cancel = scheduleAt(clock, 1600, (at) => fired.push(at));
    cancel();
    clock.advance(1000);
    expect(fired).toEqual([1500]);
  });
});

describe('clock - real clock', () => {
  it('scheduleAt - never fires before its time', async () => {
    const results = await Promise.all(
      [5, 13, 27].map(
        (ms) =>
          new Promise<{ target: number; at: number }>((resolve) => {
            const target = systemClock.now() + ms;
            scheduleAt(systemClock, target, (at) => resolve({ target, at }), { precise: ms !== 13 });
          }),
      ),
    );
    for (const { target, at } of results) expect(at).toBeGreaterThanOrEqual(target);
  });
});
