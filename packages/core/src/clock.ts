/**
 * The clock seam. Every time-dependent part (beat clock, HLC, leases, degradation) takes a
 * Clock, real by default and a FakeClock in tests.
 */

/** Opaque handle of a timer set with {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** Time source and timers. */
export interface Clock {
  /** Wall time in ms since the epoch, fractional, monotonic within a process. */
  now(): number;
  /** The system wall clock (Date.now()): may step backwards. For the HLC's physical part. */
  wallNow(): number;
  /** Runs `cb` after about `ms` ms (libuv may fire up to ~1 ms early: re-check now()). */
  setTimeout(cb: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Busy-waits until now() >= t. Only real clocks offer it (a fake clock never advances by
   * itself); {@link scheduleAt} uses it for the last fraction of a millisecond.
   */
  spinUntil?(t: number): void;
}

const origin = performance.timeOrigin;

/** The process's real clock: performance.timeOrigin + performance.now(), Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => origin + performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (cb: () => void, ms: number): TimerHandle => setTimeout(cb, Math.max(0, ms)),
  clearTimeout: (handle: TimerHandle) => clearTimeout(handle as NodeJS.Timeout),
  spinUntil: (t: number) => {
    while (origin + performance.now() < t) {
      /* spin: bounded by the caller to about a millisecond */
    }
  },
});

/** Options of {@link scheduleAt}. */
export interface ScheduleOptions {
  /**
   * Fire within a few tens of microseconds of `t` by sleeping until ~1 ms before and spinning
   * the rest (only on clocks that offer spinUntil). Costs up to `spinMs` of CPU per call.
   * @default false
   */
  precise?: boolean;
  /** How much of the wait may be spun, in ms (libuv timers fire up to ~1 ms late or early). @default 2.5 */
  spinMs?: number;
}

/**
 * Calls `cb(firedAt)` at absolute time `t` (clock.now() scale), never before it: timers that
 * fire early are re-armed (SPEC section 12). Returns a cancel function.
 */
export function scheduleAt(
  clock: Clock,
  t: number,
  cb: (firedAt: number) => void,
  options: ScheduleOptions = {},
): () => void {
  const spinMs = options.spinMs ?? 2.5;
  const canSpin = options.precise === true && clock.spinUntil !== undefined;
  let handle: TimerHandle | undefined;
  let cancelled = false;

  const arm = (): void => {
    handle = undefined;
    if (cancelled) return;
    const remaining = t - clock.now();
    if (remaining <= 0) {
      cb(clock.now());
      return;
    }
    if (canSpin && remaining <= spinMs) {
      clock.spinUntil!(t);
      cb(clock.now());
      return;
    }
    // Aim ~2 ms early when spinning will finish the job; otherwise aim at t and re-check.
    handle = clock.setTimeout(arm, canSpin ? remaining - spinMs + 0.5 : remaining);
  };
  arm();

  return () => {
    cancelled = true;
    if (handle !== undefined) clock.clearTimeout(handle);
  };
}
