import { describe, expect, it } from 'vitest';
import {
  BLOCK_WINDOW_MS,
  createSystemClock,
  FakeClock,
  scheduleAt,
  sleepUntil,
  systemClock,
  type TimerHandle,
} from '@backbeat/core';

/**
 * A FakeClock whose timers fire up to `early` ms before they are due, as libuv's may (delays
 * below 1 ms count as 1 ms, as in Node; a timer never fires in the same instant it was set).
 */
class EarlyClock extends FakeClock {
  constructor(
    start: number,
    readonly early: number,
  ) {
    super(start);
  }

  override setTimeout(cb: () => void, ms: number): TimerHandle {
    return super.setTimeout(cb, Math.max(0.1, Math.max(1, ms) - this.early));
  }
}

/** An EarlyClock with the precise-mode hooks: defer polls every 50 µs, spinUntil stalls. */
class PollingClock extends EarlyClock {
  deferred = 0;
  longestSpin = 0;

  defer(cb: () => void): void {
    this.deferred++;
    FakeClock.prototype.setTimeout.call(this, cb, 0.05);
  }

  spinUntil(t: number): void {
    this.longestSpin = Math.max(this.longestSpin, t - this.now());
    this.stall(t - this.now());
  }
}

/** An EarlyClock with blockUntil (a stall to the time) and the poll hooks, which block mode must not use. */
class BlockingClock extends PollingClock {
  longestBlock = 0;
  blocks = 0;

  blockUntil(t: number): void {
    this.blocks++;
    this.longestBlock = Math.max(this.longestBlock, t - this.now());
    this.stall(t - this.now());
  }
}

describe('clock - FakeClock', () => {
  it('fake clock - fires timers in time order, nested ones included, each at its due time', () => {
    const clock = new FakeClock(0);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      seen.push(`a@${clock.now()}`);
      clock.setTimeout(() => seen.push(`c@${clock.now()}`), 5);
      clock.setTimeout(() => seen.push(`d@${clock.now()}`), 0);
    }, 10);
    clock.setTimeout(() => seen.push(`e@${clock.now()}`), 20); // same time as b: creation order
    const cancelled = clock.setTimeout(() => seen.push('never'), 12);
    clock.clearTimeout(cancelled);
    expect(clock.nextDueAt).toBe(10);
    clock.advance(30);
    expect(seen).toEqual(['a@10', 'd@10', 'c@15', 'b@20', 'e@20']);
    expect(clock.now()).toBe(30);
    expect(clock.pending).toBe(0);
    expect(clock.nextDueAt).toBeUndefined();
  });

  it('fake clock - advanceTo stops at its target and leaves later timers pending', () => {
    const clock = new FakeClock(1000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 100);
    clock.setTimeout(() => fired.push(clock.now()), 101);
    clock.advanceTo(1100);
    expect(fired).toEqual([1100]);
    expect(clock.pending).toBe(1);
    clock.advanceTo(900); // the past: nothing moves
    expect(clock.now()).toBe(1100);
  });

  it('fake clock - runAll fires everything and guards against endless timer loops', () => {
    const clock = new FakeClock(0);
    let chain = 0;
    const next = () => {
      if (++chain < 5) clock.setTimeout(next, 1000);
    };
    clock.setTimeout(next, 1000);
    expect(clock.runAll()).toBe(5);
    expect(clock.now()).toBe(5000);

    const loop = () => clock.setTimeout(loop, 0);
    loop();
    expect(() => clock.advance(1, 100)).toThrow(/more than 100/);
    expect(() => clock.runAll(50)).toThrow(/more than 50/);
  });

  it('fake clock - setWall steps the wall clock alone, which then moves with now()', () => {
    const clock = new FakeClock(1_700_000_000_000.5);
    expect(clock.wallNow()).toBe(1_700_000_000_000);
    clock.setWall(1_699_999_990_000);
    expect(clock.now()).toBe(1_700_000_000_000.5);
    clock.advance(1000);
    expect(clock.wallNow()).toBe(1_699_999_991_000);
  });

  it('fake clock - stall moves time without firing; the next advance fires the late timers', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 10);
    clock.stall(50);
    expect(fired).toEqual([]);
    clock.advance(0);
    expect(fired).toEqual([50]);
  });
});

describe('clock - scheduleAt on a fake clock', () => {
  it('scheduleAt - fires at the absolute time and can be cancelled', () => {
    const clock = new FakeClock(1000);
    const fired: number[] = [];
    scheduleAt(clock, 1500.25, (at) => fired.push(at));
    const cancel = scheduleAt(clock, 1600, (at) => fired.push(at));
    cancel();
    cancel();
    clock.advance(1000);
    expect(fired).toEqual([1500.25]);
    expect(clock.pending).toBe(0);
  });

  it('scheduleAt - a time in the past fires on the next tick, never inside the call', () => {
    const clock = new FakeClock(1000);
    const fired: number[] = [];
    scheduleAt(clock, 900, (at) => fired.push(at));
    expect(fired).toEqual([]);
    clock.advance(0);
    expect(fired).toEqual([1000]);
  });

  it('scheduleAt - re-arms a timer that fires early, so it never fires before its time', () => {
    const clock = new EarlyClock(0, 1.7);
    const fired: number[] = [];
    for (const t of [3, 10.5, 100]) scheduleAt(clock, t, (at) => fired.push(at - t));
    clock.advance(200);
    expect(fired).toHaveLength(3);
    for (const late of fired) expect(late).toBeGreaterThanOrEqual(0);
  });

  it('scheduleAt - precise mode polls, then spins at most spinMs, and lands on time', () => {
    const clock = new PollingClock(0, 1.7);
    const fired: number[] = [];
    scheduleAt(clock, 50, (at) => fired.push(at), { precise: true, spinMs: 0.5 });
    clock.advance(100);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(50);
    expect(fired[0]! - 50).toBeLessThan(0.06);
    expect(clock.deferred).toBeGreaterThan(0);
    expect(clock.longestSpin).toBeLessThanOrEqual(0.5);
  });

  it('scheduleAt - block mode sleeps on timers, blocks at most BLOCK_WINDOW_MS, lands on time and never polls', () => {
    for (const early of [0, 0.4, 1.7]) {
      const clock = new BlockingClock(0, early);
      const fired: number[] = [];
      for (const t of [50, 50.25, 170.6])
        scheduleAt(clock, t, (at) => fired.push(at - t), { precise: true, wait: 'block' });
      clock.advance(300);
      expect(fired).toEqual([0, 0, 0]);
      expect(clock.deferred).toBe(0);
      expect(clock.blocks).toBe(3);
      expect(clock.longestBlock).toBeLessThanOrEqual(BLOCK_WINDOW_MS);
    }
  });

  it('scheduleAt - block mode on a clock without blockUntil polls as before', () => {
    const clock = new PollingClock(0, 1);
    const fired: number[] = [];
    scheduleAt(clock, 40, (at) => fired.push(at), { precise: true, wait: 'block' });
    clock.advance(100);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(40);
    expect(clock.deferred).toBeGreaterThan(0);
  });

  it('scheduleAt - rejects a non-finite time, a spin over 1 ms and an unknown wait', () => {
    const clock = new FakeClock(0);
    expect(() => scheduleAt(clock, Number.NaN, () => {})).toThrow(/t: must be a finite/);
    expect(() => scheduleAt(clock, 10, () => {}, { spinMs: 2 })).toThrow(/spinMs/);
    expect(() => scheduleAt(clock, 10, () => {}, { wait: 'sleep' as 'block' })).toThrow(
      /wait: must be 'poll' or 'block'/,
    );
  });

  it('sleepUntil - resolves at the time, rejects when aborted', async () => {
    const clock = new FakeClock(0);
    const slept = sleepUntil(clock, 20);
    clock.advance(25);
    await expect(slept).resolves.toBe(20);

    const ac = new AbortController();
    const aborted = sleepUntil(clock, 100, { signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
  });
});

describe('clock - real clock', () => {
  it('scheduleAt - never fires before its time, precise or not', async () => {
    const cases = [
      { ms: 2, precise: false },
      { ms: 6.3, precise: true },
      { ms: 11.7, precise: false },
      { ms: 19, precise: true },
      { ms: -3, precise: true },
      { ms: 3.4, precise: true, wait: 'block' as const },
      { ms: 9.9, precise: true, wait: 'block' as const },
    ];
    const results = await Promise.all(
      cases.map(
        ({ ms, precise, wait }: { ms: number; precise: boolean; wait?: 'block' }) =>
          new Promise<{ target: number; firedAt: number; nowInCallback: number }>((resolve) => {
            const target = systemClock.now() + ms;
            scheduleAt(
              systemClock,
              target,
              (firedAt) => resolve({ target, firedAt, nowInCallback: systemClock.now() }),
              { precise, wait },
            );
          }),
      ),
    );
    for (const { target, firedAt, nowInCallback } of results) {
      expect(firedAt).toBeGreaterThanOrEqual(target);
      expect(nowInCallback).toBeGreaterThanOrEqual(target);
    }
  });

  it('systemClock.blockUntil - returns at its time, never before, and at once for a past time', () => {
    for (const ms of [0.05, 0.3, 1.2, -1]) {
      const target = systemClock.now() + ms;
      systemClock.blockUntil!(target);
      expect(systemClock.now()).toBeGreaterThanOrEqual(target);
    }
  });

  it('sleepUntil - resolves no earlier than its time on the real clock', async () => {
    const target = systemClock.now() + 4;
    const firedAt = await sleepUntil(systemClock, target, { precise: true });
    expect(firedAt).toBeGreaterThanOrEqual(target);
  });

  it('createSystemClock - unrefTimers leaves the process free to exit', () => {
    const clock = createSystemClock({ unrefTimers: true });
    const handle = clock.setTimeout(() => {}, 10_000) as NodeJS.Timeout;
    expect(handle.hasRef()).toBe(false);
    clock.clearTimeout(handle);
    const ref = systemClock.setTimeout(() => {}, 10_000) as NodeJS.Timeout;
    expect(ref.hasRef()).toBe(true);
    systemClock.clearTimeout(ref);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
  });
});
