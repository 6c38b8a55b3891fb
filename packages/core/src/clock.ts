/**
 * The clock seam. Every time-dependent part (beat clock, HLC, leases, degradation) takes a
 * Clock: {@link systemClock} in production, a {@link FakeClock} in tests. Code that must act
 * at an absolute time uses {@link scheduleAt} (schedule.ts), never a chain of relative timers.
 */

/** Opaque handle of a timer set with {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** Time source and timers. */
export interface Clock {
  /**
   * Wall time in ms since the epoch, fractional and monotonic within a process
   * (performance.timeOrigin + performance.now() on the real clock). Use it for the grid.
   */
  now(): number;
  /**
   * The system wall clock, Date.now(): integer ms that may step (NTP, an operator). Use it
   * for the HLC's physical part and for timestamps shown to people.
   */
  wallNow(): number;
  /** Runs `cb` after about `ms` ms. Real timers may fire up to ~1 ms early: re-check now(). */
  setTimeout(cb: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or already fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Runs `cb` on the next turn of the event loop, after pending I/O (setImmediate). Real
   * clocks only: {@link scheduleAt} polls with it for the last few ms in precise mode.
   */
  defer?(cb: () => void): void;
  /**
   * Busy-waits until now() >= t. Real clocks only (a fake clock never moves by itself);
   * {@link scheduleAt} uses it for at most `spinMs` in precise mode.
   */
  spinUntil?(t: number): void;
  /**
   * Blocks the thread until now() >= t without burning the CPU: a futex wait
   * (Atomics.wait, microsecond timeout), then a spin of the last ~0.1 ms. Real clocks only;
   * {@link scheduleAt} uses it for the last few ms in precise mode with `wait: 'block'`.
   * A sleeping process is woken on time by the OS even on a busy host, where a polling or
   * spinning one competes for the CPU with everything else.
   */
  blockUntil?(t: number): void;
}

/** blockUntil wakes this long before its time and spins the rest (futex wake-ups are ~50 µs late). */
const BLOCK_SPIN_MS = 0.1;
/** Nobody ever notifies it: Atomics.wait on it is a sleep with a microsecond timeout. */
const blockCell = new Int32Array(new SharedArrayBuffer(4));

/** Options of {@link createSystemClock}. */
export interface SystemClockOptions {
  /**
   * Unref every timer, so that a pending timer alone does not keep the process alive.
   * @default false
   */
  unrefTimers?: boolean;
}

/**
 * A real clock: now() is performance.timeOrigin + performance.now(), wallNow() is
 * Date.now(), timers are Node's.
 */
export function createSystemClock(options: SystemClockOptions = {}): Clock {
  const origin = performance.timeOrigin;
  const unref = options.unrefTimers === true;
  const now = (): number => origin + performance.now();
  const spinUntil = (t: number): void => {
    while (now() < t) {
      // Busy-wait: callers bound it to a fraction of a millisecond.
    }
  };
  return Object.freeze({
    now,
    wallNow: () => Date.now(),
    setTimeout: (cb: () => void, ms: number): TimerHandle => {
      const timer = setTimeout(cb, Number.isFinite(ms) ? Math.max(0, ms) : 0);
      return unref ? timer.unref() : timer;
    },
    clearTimeout: (handle: TimerHandle) => clearTimeout(handle as NodeJS.Timeout),
    defer: (cb: () => void) => {
      const immediate = setImmediate(cb);
      if (unref) immediate.unref();
    },
    spinUntil,
    blockUntil: (t: number) => {
      const wait = t - now() - BLOCK_SPIN_MS;
      if (wait > 0) Atomics.wait(blockCell, 0, 0, wait);
      spinUntil(t);
    },
  });
}

/** The process's real clock, with ref'd timers. */
export const systemClock: Clock = createSystemClock();
