/**
 * Waits for the ledger's handled floor to reach a stream sequence, with a timeout: how a
 * report gives the claim consumer `catchUpWaitMs` to deliver what the stream holds
 * (docs/spec.md §9 Reverb, "A report counts what the stream acknowledged"). The shell calls
 * {@link HandledWaiters.check} after every step that may move the floor.
 */
import type { Clock, TimerHandle } from '@backbeat/core';

interface Waiter {
  readonly target: number;
  readonly resolve: (handled: boolean) => void;
  readonly timer: TimerHandle;
}

/** Pending waits on the handled floor. */
export class HandledWaiters {
  readonly #clock: Clock;
  readonly #floor: () => number | undefined;
  #waiters = new Set<Waiter>();

  /** `floor` reads the handled floor (undefined before it is known). */
  constructor(clock: Clock, floor: () => number | undefined) {
    this.#clock = clock;
    this.#floor = floor;
  }

  /** Resolves true once every sequence up to `target` is handled, false after `timeoutMs`. */
  whenHandled(target: number, timeoutMs: number): Promise<boolean> {
    const floor = this.#floor();
    if (floor !== undefined && floor >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        target,
        resolve,
        timer: this.#clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Wakes the waits the floor now satisfies. */
  check(): void {
    if (this.#waiters.size === 0) return;
    const floor = this.#floor();
    if (floor === undefined) return;
    for (const w of this.#waiters) {
      if (floor < w.target) continue;
      this.#clock.clearTimeout(w.timer);
      this.#waiters.delete(w);
      w.resolve(true);
    }
  }
}
