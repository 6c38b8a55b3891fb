/**
 * When a follower may take over a lease that was not renewed (docs/spec.md §7 Election, terms
 * and fencing): once its holder must have fenced itself. The holder stops publishing at its last
 * acknowledged renewal's send time + TTL − fence margin; that send time is before the server's
 * write time `created`; clocks differ from the servers' by at most the clock-offset bound. The
 * takeover itself is a compare-and-set on the seen revision (kv-lease.ts).
 */
import type { Clock } from '@backbeat/core';

/** What a takeover waits beyond the holder's fence and the clock-offset bound: timer and request latency. */
export const TAKEOVER_SAFETY_MS = 50;

/** The wall-clock time from which a lease written at `created` and not renewed since may be taken over. */
export function takeoverDueAt(created: number, ttlMs: number, fenceMarginMs: number, clockOffsetBoundMs: number): number {
  return created + ttlMs - fenceMarginMs + 2 * clockOffsetBoundMs + TAKEOVER_SAFETY_MS;
}

/**
 * One timer for the newest lease revision a follower has seen: when that revision is still the
 * newest at its due time, `onDue(revision)` runs. An older or equal revision changes nothing.
 */
export class TakeoverTimer {
  readonly #clock: Clock;
  readonly #dueAt: (created: number) => number;
  readonly #onDue: (revision: number) => void;
  #revision = 0;
  #cancel: (() => void) | undefined;

  constructor(clock: Clock, dueAt: (created: number) => number, onDue: (revision: number) => void) {
    this.#clock = clock;
    this.#dueAt = dueAt;
    this.#onDue = onDue;
  }

  /** The lease was seen at `revision`, written at `created` (the server's wall clock). */
  observe(revision: number, created: number): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    this.cancel();
    const handle = this.#clock.setTimeout(() => {
      this.#cancel = undefined;
      if (this.#revision === revision) this.#onDue(revision);
    }, Math.max(0, this.#dueAt(created) - this.#clock.wallNow()));
    this.#cancel = () => this.#clock.clearTimeout(handle);
  }

  /** Stops the timer (the node stops). */
  cancel(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }
}
