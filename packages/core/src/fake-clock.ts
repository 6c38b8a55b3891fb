import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly cb: () => void;
}

/**
 * A clock that moves only when told to: `advance(ms)` and `advanceTo(t)` fire due timers in
 * time order (timers set by timers included). `setWall` moves the wall clock alone, to test
 * code against a wall clock that steps.
 */
export class FakeClock implements Clock {
  #now: number;
  #wallOffset = 0;
  #seq = 0;
  #timers = new Map<number, FakeTimer>();

  /** @param start initial time in ms since the epoch @default 1_700_000_000_000 */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return Math.floor(this.#now + this.#wallOffset);
  }

  /** Sets the wall clock to `ms` without moving now() (a step, as NTP may make). */
  setWall(ms: number): void {
    this.#wallOffset = ms - this.#now;
  }

  setTimeout(cb: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: ++this.#seq, at: this.#now + Math.max(0, ms), cb };
    this.#timers.set(timer.id, timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    if (id !== undefined) this.#timers.delete(id);
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms` without firing anything, as when the event loop is blocked;
   * timers that fell due fire, late, on the next advance.
   */
  stall(ms: number): void {
    this.#now += ms;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /**
   * Moves time to `t`, firing due timers in (time, creation) order.
   * @throws Error when more than `maxFires` timers fire (a timer loop that never ends)
   */
  advanceTo(t: number, maxFires = 1_000_000): void {
    let fired = 0;
    for (;;) {
      const next = this.#nextDue(t);
      if (!next) break;
      if (++fired > maxFires) throw new Error(`FakeClock: more than ${maxFires} timers fired`);
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.cb();
    }
    this.#now = Math.max(this.#now, t);
  }

  #nextDue(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
