/**
 * The fence shared between the main thread (which holds the lease) and the emitter thread
 * (which publishes): the lease deadline and the term, in a SharedArrayBuffer read with
 * Atomics, so the emitter checks them before every publish without a message round trip
 * (docs/spec.md §7 Election, terms and fencing: a leader checks its own deadline before every publish).
 */

/** Deadline used for "no expiry" (the single-node elector). */
const FOREVER_US = BigInt(Number.MAX_SAFE_INTEGER);

/** A lease deadline (on the clock.now() scale) and a term, shared across threads. */
export class SharedFence {
  readonly buffer: SharedArrayBuffer;
  readonly #deadlineUs: BigInt64Array;
  readonly #term: Int32Array;

  /** @param buffer an existing fence's buffer (in the emitter thread), or a new one */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(16)) {
    this.buffer = buffer;
    this.#deadlineUs = new BigInt64Array(buffer, 0, 1);
    this.#term = new Int32Array(buffer, 8, 1);
  }

  /** Opens the fence for `term` until `deadline` (ms; Infinity: no expiry). */
  open(deadline: number, term: number): void {
    Atomics.store(this.#term, 0, term);
    Atomics.store(this.#deadlineUs, 0, Number.isFinite(deadline) ? BigInt(Math.floor(deadline * 1000)) : FOREVER_US);
  }

  /** Closes the fence: nothing may be published until it is opened again. */
  close(): void {
    Atomics.store(this.#deadlineUs, 0, 0n);
  }

  /** The term one may publish under at `now`, or 0 when the fence is closed or expired. */
  term(now: number): number {
    return now * 1000 < Number(Atomics.load(this.#deadlineUs, 0)) ? Atomics.load(this.#term, 0) : 0;
  }
}
