/**
 * Acting at an absolute time. libuv timers may fire up to ~1 ms early and `setInterval`
 * accumulates lateness (docs/spec.md §12 Known pitfalls), so every deadline is an absolute
 * clock.now() value and every wake-up re-checks the clock before acting.
 */
import type { Clock, TimerHandle } from './clock.js';
import { InvalidArgumentError } from './errors.js';

/** Options of {@link scheduleAt} and {@link sleepUntil}. */
export interface ScheduleOptions {
  /**
   * Sub-millisecond precision for the pulse: sleep until a few ms before `t`, poll with
   * setImmediate (the event loop keeps serving I/O), then busy-wait the last `spinMs`. Only
   * on clocks that offer `defer` and `spinUntil`; on others it has no effect.
   * @default false
   */
  precise?: boolean;
  /**
   * Longest busy-wait in precise mode, in ms, from 0 to 1. It matters only when the event
   * loop is busy: on an idle loop the setImmediate poll lands within tens of microseconds.
   * @default 0.5
   */
  spinMs?: number;
  /**
   * How precise mode spends the last few ms: `poll` keeps the event loop serving I/O
   * (setImmediate) and spins at most `spinMs`; `block` sleeps the thread in the kernel until
   * `t` (clock.blockUntil, at most {@link BLOCK_WINDOW_MS}) and then fires. `block` is the
   * one that stays on time on a loaded host: many processes polling at the same instant
   * compete for the CPU and each loses milliseconds, a sleeping one is woken on time. It
   * holds the event loop for those ms. Only on clocks with `blockUntil`; else `poll`.
   * @default 'poll'
   */
  wait?: 'poll' | 'block';
}

/** In precise mode the timer aims this many ms before t... */
const TIMER_LEAD_MS = 2;
/** ...and any wake-up this close to t polls instead of setting another timer. */
const POLL_WINDOW_MS = 4;
/** In block mode a wake-up at most this far before t blocks until t; from further away it sets another timer. */
export const BLOCK_WINDOW_MS = 3;

/**
 * Calls `cb(firedAt)` at absolute time `t` (on the clock.now() scale), never before it:
 * a timer that fires early is re-armed. A `t` in the past fires on the next timer tick.
 * Errors thrown by `cb` propagate like any timer callback's.
 *
 * ```ts
 * const cancel = scheduleAt(clock, pos.phaseStart, (firedAt) => emit(pos, firedAt), { precise: true });
 * ```
 *
 * @returns a function that cancels the call (idempotent; harmless after it fired)
 * @throws InvalidArgumentError when `t` is not a finite number, spinMs is out of range or wait is unknown
 */
export function scheduleAt(
  clock: Clock,
  t: number,
  cb: (firedAt: number) => void,
  options: ScheduleOptions = {},
): () => void {
  if (!Number.isFinite(t)) throw new InvalidArgumentError('t', `must be a finite time in ms, got ${t}`);
  const spinMs = options.spinMs ?? 0.5;
  if (!(spinMs >= 0 && spinMs <= 1)) throw new InvalidArgumentError('spinMs', `must be from 0 to 1 ms, got ${spinMs}`);
  if (options.wait !== undefined && options.wait !== 'poll' && options.wait !== 'block')
    throw new InvalidArgumentError('wait', `must be 'poll' or 'block', got '${String(options.wait)}'`);
  const precise = options.precise === true;
  const spin = precise ? clock.spinUntil?.bind(clock) : undefined;
  const block = precise && options.wait === 'block' ? clock.blockUntil?.bind(clock) : undefined;
  const defer = precise && !block ? clock.defer?.bind(clock) : undefined;
  const lead = defer || block ? TIMER_LEAD_MS : 0;
  let handle: TimerHandle | undefined;
  let cancelled = false;
  let fired = false;

  const fire = (): void => {
    fired = true;
    cb(clock.now());
  };

  const wake = (): void => {
    handle = undefined;
    if (cancelled || fired) return;
    const remaining = t - clock.now();
    if (remaining <= 0) return fire();
    if (block && remaining <= BLOCK_WINDOW_MS) {
      block(t);
      return fire();
    }
    if (spin && !block && remaining <= spinMs) {
      spin(t);
      return fire();
    }
    if (defer && remaining <= POLL_WINDOW_MS) return defer(wake);
    handle = clock.setTimeout(wake, remaining - lead);
  };

  // Always wait for at least one timer tick, so that cb never runs inside scheduleAt itself.
  handle = clock.setTimeout(wake, Math.max(0, t - clock.now() - lead));

  return () => {
    cancelled = true;
    if (handle !== undefined) clock.clearTimeout(handle);
    handle = undefined;
  };
}

/** Options of {@link sleepUntil}. */
export interface SleepOptions extends ScheduleOptions {
  /** Rejects with the signal's reason and cancels the timer when aborted. */
  signal?: AbortSignal;
}

/**
 * Resolves with clock.now() at absolute time `t`, never before it ({@link scheduleAt} as a
 * promise).
 * @throws InvalidArgumentError as {@link scheduleAt}; rejects with `signal.reason` on abort
 */
export function sleepUntil(clock: Clock, t: number, options: SleepOptions = {}): Promise<number> {
  const { signal, ...schedule } = options;
  return new Promise<number>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = scheduleAt(
      clock,
      t,
      (firedAt) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(firedAt);
      },
      schedule,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
