/**
 * One timer per process for every client (BACKBEAT-REQ-040;
 * docs/decisions/0004-sdk-beat-delivery.md): clients on the same Clock share a {@link SlotTimer},
 * which keeps one precise `scheduleAt` armed for the earliest instant anyone waits for, and runs
 * every callback due at that instant in one go. A thousand clients on a bus cost one wake-up per
 * slot, not a thousand. The wait is sleep-then-block (scheduleAt `wait: 'block'`): a timer until ~2
 * ms before the instant, then the thread sleeps in the kernel to the instant (at most 3 ms, the
 * event loop held meanwhile) instead of polling: processes of a host that wake for the same slot do not
 * compete for its cores, which cost each of them milliseconds when they polled (docs/spec.md §12
 * Known pitfalls).
 */
import { BLOCK_WINDOW_MS, scheduleAt, type Clock } from '@backbeat/core';

type SlotCallback = (firedAt: number) => void;

/** Shared absolute-time callbacks on one clock. */
export class SlotTimer {
  /** Instants with callbacks, ascending; one bucket per instant. */
  readonly #times: number[] = [];
  /** Per instant: each callback and its optional prepare. */
  readonly #buckets = new Map<number, Map<SlotCallback, (() => void) | undefined>>();
  #armedFor: number | undefined;
  /** The armed instant's prepares have run (its final wait is armed). */
  #prepared = false;
  #firing = false;
  readonly #after: Array<() => void> = [];
  #settling = false;
  #cancel: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  /** Callbacks waiting. */
  get size(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.size;
    return n;
  }

  /**
   * Calls `cb(firedAt)` at absolute time `t` (clock.now() scale), never before it; returns
   * the cancel function. `firedAt` is clock.now() when the timer woke: the same for every
   * callback of one wake-up (read the clock again for the time a callback itself runs).
   * `prepare`, if given, runs about {@link PREPARE_LEAD_MS} before `t` (at once if that is
   * past): the work a callback can do ahead of its instant, so that the instant itself costs
   * each client as little as possible.
   */
  at(t: number, cb: SlotCallback, prepare?: () => void): () => void {
    let bucket = this.#buckets.get(t);
    if (!bucket) {
      bucket = new Map();
      this.#buckets.set(t, bucket);
      this.#times.splice(lowerBound(this.#times, t), 0, t);
    }
    // A callback is kept once per instant: adding the same one twice for one instant is one call.
    bucket.set(cb, prepare ?? bucket.get(cb));
    if (prepare && this.#armedFor === t && this.#prepared) prepare();
    this.#arm();
    return () => {
      const b = this.#buckets.get(t);
      if (!b?.delete(cb) || b.size > 0) return;
      this.#buckets.delete(t);
      this.#times.splice(lowerBound(this.#times, t), 1);
      if (this.#times.length === 0) this.#disarm();
    };
  }

  /**
   * Runs `fn` {@link SETTLE_DELAY_MS} after the callbacks of the current wake-up (at once
   * when called outside one): a callback defers its bookkeeping so that the last client of a
   * slot is not called after all the others' bookkeeping, and the process sleeps in between,
   * so that the other processes of the host that woke for the same slot get the cores for
   * their callbacks before this one does its bookkeeping.
   */
  afterFire(fn: () => void): void {
    if (this.#firing) this.#after.push(fn);
    else fn();
  }

  #disarm(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = undefined;
  }

  #arm(): void {
    if (this.#settling) return; // #settle arms
    const first = this.#times[0];
    if (first === undefined || first === this.#armedFor) return;
    this.#disarm();
    this.#armedFor = first;
    this.#prepared = false;
    this.#cancel = scheduleAt(this.clock, first - PREPARE_LEAD_MS, () => this.#prepare(first));
  }

  /** Runs the prepares of instant `t`, then waits for it (sleep, then block; docs/spec.md §12 Known pitfalls). */
  #prepare(t: number): void {
    if (this.#armedFor !== t) return;
    this.#prepared = true;
    const bucket = this.#buckets.get(t);
    if (bucket && this.clock.now() < t - PREPARE_STOP_MS) {
      let n = 0;
      for (const prepare of bucket.values()) {
        // Never late for the instant: what is not prepared by then is done at the instant.
        if (++n % 32 === 0 && this.clock.now() >= t - PREPARE_STOP_MS) break;
        try {
          prepare?.();
        } catch {
          // A prepare only saves work: the callback does it at the instant instead.
        }
      }
    }
    const block = this.clock.blockUntil?.bind(this.clock);
    const remaining = t - this.clock.now();
    if (block && remaining <= BLOCK_WINDOW_MS) {
      // Close enough: sleep the thread to the instant here rather than through another timer tick.
      this.#cancel = undefined;
      if (remaining > 0) block(t);
      return this.#fire();
    }
    this.#cancel = scheduleAt(this.clock, t, () => this.#fire(), { precise: true, wait: 'block' });
  }

  #fire(): void {
    this.#cancel = undefined;
    this.#armedFor = undefined;
    this.#prepared = false;
    const now = this.clock.now();
    // Take what is due first: a callback that sets another timer is served on a later turn.
    const due: Array<Map<SlotCallback, (() => void) | undefined>> = [];
    while (this.#times.length > 0 && this.#times[0]! <= now) {
      const t = this.#times.shift()!;
      due.push(this.#buckets.get(t)!);
      this.#buckets.delete(t);
    }
    this.#firing = true;
    for (const bucket of due) {
      for (const cb of bucket.keys()) {
        try {
          cb(now);
        } catch {
          // A client's own handler reports its errors; one client never stops the others.
        }
      }
    }
    this.#firing = false;
    if (this.#after.length === 0) return this.#arm();
    // The bookkeeping arms the next instants: the timer is re-armed after it.
    this.#settling = true;
    this.clock.setTimeout(() => this.#settle(), SETTLE_DELAY_MS);
  }

  #settle(): void {
    this.#settling = false;
    const after = this.#after.splice(0);
    for (const fn of after) {
      try {
        fn();
      } catch {
        // As above.
      }
    }
    this.#arm();
  }
}

/** How long before an instant its callbacks' prepares run, ms (within the final wait's reach). */
export const PREPARE_LEAD_MS = 2.5;
/** Prepares stop this close to the instant, ms. */
const PREPARE_STOP_MS = 0.3;

/** The pause between a wake-up's callbacks and their bookkeeping, ms (see {@link SlotTimer.afterFire}). */
export const SETTLE_DELAY_MS = 1;

function lowerBound(a: number[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const timers = new WeakMap<Clock, SlotTimer>();

/** The process's shared timer for `clock`. */
export function sharedSlotTimer(clock: Clock): SlotTimer {
  let t = timers.get(clock);
  if (!t) timers.set(clock, (t = new SlotTimer(clock)));
  return t;
}
