/**
 * A deterministic clock for tests: time moves only when the test says so.
 */
import type { Clock, TimerHandle } from './clock.js';
import { InvalidArgumentError } from './errors.js';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly cb: () => void;
}

/** Default guard of {@link FakeClock.advanceTo} and {@link FakeClock.runAll}. */
const DEFAULT_MAX_FIRES = 1_000_000;

/**
 * A clock that moves only when told to. `advance(ms)` and `advanceTo(t)` fire the timers due
 * on the way in (time, creation) order, timers set by timers included, each with now() equal
 * to its due time. `setWall` steps the wall clock alone, to test code against NTP steps.
 * It offers neither `defer` nor `spinUntil`, so `scheduleAt` is exact on it in any mode.
 *
 * ```ts
 * const clock = new FakeClock(1_700_000_000_000);
 * clock.setTimeout(() => console.log(clock.now()), 500);
 * clock.advance(1000); // logs 1700000000500
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #wallOffset = 0;
  #seq = 0;
  #timers = new Map<number, FakeTimer>();

  /**
   * @param start initial now(), ms since the epoch @default 1_700_000_000_000
   * @throws InvalidArgumentError when start is not finite
   */
  constructor(start = 1_700_000_000_000) {
    if (!Number.isFinite(start)) throw new InvalidArgumentError('start', `must be a finite time in ms, got ${start}`);
    this.#now = start;
  }

  /** Current time; moves only with advance, advanceTo, runAll and stall. */
  now(): number {
    return this.#now;
  }

  /** now() plus the offset set by {@link setWall}, floored to whole ms like Date.now(). */
  wallNow(): number {
    return Math.floor(this.#now + this.#wallOffset);
  }

  /**
   * Steps the wall clock to `ms` without moving now() (as NTP may); it then keeps moving
   * with now(). A value below wallNow() simulates a wall clock stepping backwards.
   */
  setWall(ms: number): void {
    this.#wallOffset = ms - this.#now;
  }

  /** Sets a timer due at now() + ms; a negative or non-finite ms counts as 0. */
  setTimeout(cb: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: FakeTimer = { id: ++this.#seq, at: this.#now + delay, cb };
    this.#timers.set(timer.id, timer);
    return { id: timer.id };
  }

  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: unknown }).id;
    if (typeof id === 'number') this.#timers.delete(id);
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Due time of the next timer, or undefined when none is set. */
  get nextDueAt(): number | undefined {
    return this.#nextDue(Number.POSITIVE_INFINITY)?.at;
  }

  /**
   * Moves time forward by `ms` without firing anything, as when the event loop is blocked;
   * timers that fell due fire, late, on the next advance.
   */
  stall(ms: number): void {
    this.#now += Math.max(0, ms);
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way.
   * @throws Error as {@link advanceTo}
   */
  advance(ms: number, maxFires = DEFAULT_MAX_FIRES): void {
    this.advanceTo(this.#now + ms, maxFires);
  }

  /**
   * Moves time to `t` (no-op when `t` is not after now()), firing due timers in
   * (time, creation) order, then leaves now() at `t`.
   * @throws Error when more than `maxFires` timers fire: a timer loop that never ends
   */
  advanceTo(t: number, maxFires = DEFAULT_MAX_FIRES): void {
    let fired = 0;
    for (let next = this.#nextDue(t); next; next = this.#nextDue(t)) {
      if (++fired > maxFires)
        throw new Error(`FakeClock: more than ${maxFires} timers fired; is a timer re-arming itself at 0 ms?`);
      this.#fire(next);
    }
    this.#now = Math.max(this.#now, t);
  }

  /**
   * Fires timers, moving time to each, until none is left (timers set by timers included).
   * @returns the number of timers fired
   * @throws Error when more than `maxFires` fire: a periodic timer never lets it finish
   */
  runAll(maxFires = 10_000): number {
    let fired = 0;
    for (let next = this.#nextDue(Number.POSITIVE_INFINITY); next; next = this.#nextDue(Number.POSITIVE_INFINITY)) {
      if (++fired > maxFires)
        throw new Error(`FakeClock: runAll fired more than ${maxFires} timers; a periodic timer? use advance()`);
      this.#fire(next);
    }
    return fired;
  }

  #fire(timer: FakeTimer): void {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.at);
    timer.cb();
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
