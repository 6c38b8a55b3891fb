/**
 * Which claim-stream sequences a replica has handled (docs/decisions/0001-replicated-state.md). Everything up to a floor
 * is handled; above it, the sequences handled out of order are kept until the gap below them
 * closes. A delivery of a handled sequence (a redelivery, or a message the replica read from
 * the stream itself while its consumer was stalled) is skipped. Pure: no I/O, injected clock.
 */
import type { Clock, TimerHandle } from '@backbeat/core';

interface Waiter {
  readonly target: number;
  readonly resolve: (handled: boolean) => void;
  readonly timer: TimerHandle;
}

/** The set of handled stream sequences: a floor plus the ones above it. */
export class HandledSeqs {
  #upTo: number | undefined;
  #above = new Set<number>();
  #waiters = new Set<Waiter>();

  constructor(private readonly clock: Clock) {}

  /** Every sequence up to this is handled; undefined before the floor is known. */
  get upTo(): number | undefined {
    return this.#upTo;
  }

  /** Sequences handled above the floor (held until the gap below them closes). */
  get pending(): number {
    return this.#above.size;
  }

  /** True when `seq` was handled. */
  has(seq: number): boolean {
    return this.#upTo !== undefined && (seq <= this.#upTo || this.#above.has(seq));
  }

  /** Marks one sequence handled. The first one sets the floor when none was set. */
  add(seq: number): void {
    if (this.#upTo === undefined) this.#upTo = seq - 1;
    if (seq <= this.#upTo) return;
    this.#above.add(seq);
    this.#close();
  }

  /** Marks every sequence up to `seq` handled (a stream read covered them all). */
  advanceTo(seq: number): void {
    if (this.#upTo !== undefined && seq <= this.#upTo) return;
    this.#upTo = seq;
    for (const s of this.#above) if (s <= seq) this.#above.delete(s);
    this.#close();
  }

  /**
   * Resolves true once every sequence up to `target` is handled, false after `timeoutMs`.
   */
  whenHandled(target: number, timeoutMs: number): Promise<boolean> {
    if (this.#upTo !== undefined && this.#upTo >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        target,
        resolve,
        timer: this.clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Moves the floor over the handled run above it and wakes the waiters it satisfies. */
  #close(): void {
    while (this.#above.delete(this.#upTo! + 1)) this.#upTo!++;
    for (const w of this.#waiters) {
      if (this.#upTo! < w.target) continue;
      this.clock.clearTimeout(w.timer);
      this.#waiters.delete(w);
      w.resolve(true);
    }
  }
}
