/**
 * Fires every (beat, phase) slot of the grid at its scheduled time (BACKBEAT-REQ-002):
 * absolute times from the tempo map (no accumulated drift), sub-millisecond precision
 * (sleep, then spin the last fraction of a ms), and no burst of stale slots after a stalled
 * event loop: slots missed by more than `staleAfterMs` are skipped, and the next one is the
 * grid's next slot after now.
 */
import {
  compareSlots,
  nextSlot,
  scheduleAt,
  slot,
  slotAtOrAfter,
  systemClock,
  type BeatPosition,
  type Clock,
  type TempoMap,
} from '@backbeat/core';

/** What the scheduler reports for each slot. */
export interface SlotEvent {
  readonly pos: BeatPosition;
  /** clock.now() when the slot fired. */
  readonly firedAt: number;
}

/** Options of {@link BeatScheduler}. */
export interface BeatSchedulerOptions {
  clock?: Clock;
  /** The current tempo map (read again for every slot: tempo changes take effect). */
  map: () => TempoMap;
  /** Called for each slot on time. */
  onSlot: (e: SlotEvent) => void;
  /** Called when a slot is armed (one slot ahead): prepare its message off the critical path. */
  onArm?: (pos: BeatPosition) => void;
  /** Called for each slot skipped because the process was late by more than staleAfterMs. */
  onSkip?: (e: SlotEvent) => void;
  /** Called with anything a slot's callbacks throw; the scheduler goes on either way. */
  onError?: (err: Error) => void;
  /** Lateness beyond which a slot is skipped. @default 250 */
  staleAfterMs?: number;
  /** Spin the last ~1 ms for sub-ms precision. @default true */
  precise?: boolean;
  /**
   * How a precise wait spends the last ms before a slot: 'poll' keeps the event loop serving
   * I/O (the main thread: KV, HTTP), 'block' sleeps in the kernel (core's scheduleAt; for a
   * thread that only emits). @default 'poll'
   */
  wait?: 'poll' | 'block';
}

/** Runs the grid. */
export class BeatScheduler {
  #o: Required<Omit<BeatSchedulerOptions, 'onSkip' | 'onArm' | 'onError'>> &
    Pick<BeatSchedulerOptions, 'onSkip' | 'onArm' | 'onError'>;
  #cancel: (() => void) | undefined;
  #running = false;

  constructor(options: BeatSchedulerOptions) {
    this.#o = { clock: systemClock, staleAfterMs: 250, precise: true, wait: 'poll', ...options };
  }

  /** Starts at the first slot at or after now. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#armAtPresent();
  }

  /** Stops; idempotent. */
  stop(): void {
    this.#running = false;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.#o.onError?.(err instanceof Error ? err : new Error(String(err)));
      } catch {
        // an error handler that throws must not stop the beat either
      }
    }
  }

  /** Arms the grid's next slot after now; if even that fails (a map that throws), retries in a second. */
  #armAtPresent(): void {
    if (!this.#running) return;
    try {
      this.#arm(slotAtOrAfter(this.#o.map(), this.#o.clock.now()));
    } catch (err) {
      this.#guard(() => {
        throw err;
      });
      const handle = this.#o.clock.setTimeout(() => this.#armAtPresent(), 1000);
      this.#cancel = () => this.#o.clock.clearTimeout(handle);
    }
  }

  #arm(pos: BeatPosition): void {
    this.#guard(() => this.#o.onArm?.(pos));
    this.#cancel = scheduleAt(this.#o.clock, pos.phaseStart, (firedAt) => this.#fire(pos, firedAt), {
      precise: this.#o.precise,
      spinMs: 1,
      wait: this.#o.wait,
    });
  }

  #fire(armed: BeatPosition, firedAt: number): void {
    let pos = armed;
    // Re-read the slot: a tempo change placed after it was armed changes its tempo and
    // deadline (never its start, which the change keeps on the old grid).
    this.#guard(() => {
      pos = slot(this.#o.map(), armed.beatIndex, armed.phaseIndex);
      const late = firedAt - pos.phaseStart;
      if (late > this.#o.staleAfterMs) this.#o.onSkip?.({ pos, firedAt });
      else this.#o.onSlot({ pos, firedAt });
    });
    if (!this.#running) return;
    try {
      const map = this.#o.map();
      let next = nextSlot(map, pos);
      // After a stall, jump to the grid's present instead of replaying missed slots.
      const now = this.#o.clock.now();
      if (now - next.phaseStart > this.#o.staleAfterMs) {
        const current = slotAtOrAfter(map, now - this.#o.staleAfterMs);
        while (compareSlots(next, current) < 0) {
          const skipped = next;
          this.#guard(() => this.#o.onSkip?.({ pos: skipped, firedAt: now }));
          next = nextSlot(map, next);
        }
      }
      this.#arm(next);
    } catch (err) {
      this.#guard(() => {
        throw err;
      });
      const handle = this.#o.clock.setTimeout(() => this.#armAtPresent(), 1000);
      this.#cancel = () => this.#o.clock.clearTimeout(handle);
    }
  }
}
