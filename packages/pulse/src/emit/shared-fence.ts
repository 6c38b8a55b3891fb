/**
 * The fence shared between the main thread (which holds the lease) and the emitter thread
 * (which publishes): the lease deadline, the term, and until when a quorum write holds the
 * lease, in a SharedArrayBuffer read with Atomics, so the emitter checks them before every
 * publish without a message round trip (docs/spec.md §7 Election, terms and fencing: a leader
 * checks its own deadline before every publish; "Direct fallback").
 */

/** Deadline used for "no expiry" (the single-node elector). */
const FOREVER_US = BigInt(Number.MAX_SAFE_INTEGER);

const toUs = (ms: number): bigint => (Number.isFinite(ms) ? BigInt(Math.floor(ms * 1000)) : FOREVER_US);

/** A lease deadline (on the clock.now() scale), a term and a quorum deadline, shared across threads. */
export class SharedFence {
  readonly buffer: SharedArrayBuffer;
  readonly #deadlineUs: BigInt64Array;
  readonly #term: Int32Array;
  readonly #quorumUs: BigInt64Array;
  readonly #quorumSentUs: BigInt64Array;
  readonly #storedSentUs: BigInt64Array;
  readonly #storedTerm: Int32Array;

  /** @param buffer an existing fence's buffer (in the emitter thread), or a new one */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(48)) {
    this.buffer = buffer;
    this.#deadlineUs = new BigInt64Array(buffer, 0, 1);
    this.#term = new Int32Array(buffer, 8, 1);
    this.#quorumUs = new BigInt64Array(buffer, 16, 1);
    this.#quorumSentUs = new BigInt64Array(buffer, 24, 1);
    this.#storedSentUs = new BigInt64Array(buffer, 32, 1);
    this.#storedTerm = new Int32Array(buffer, 40, 1);
  }

  /**
   * Opens the fence for `term` until `deadline` (ms; Infinity: no expiry); the lease is held by a
   * quorum write until `quorumUntil` (at most `deadline`; by default all of it), a write sent at
   * `quorumSentAt` (by default: always fresh, as on a single node).
   */
  open(deadline: number, term: number, quorumUntil = deadline, quorumSentAt = Infinity): void {
    Atomics.store(this.#term, 0, term);
    Atomics.store(this.#quorumSentUs, 0, toUs(quorumSentAt));
    Atomics.store(this.#quorumUs, 0, toUs(Math.min(quorumUntil, deadline)));
    Atomics.store(this.#deadlineUs, 0, toUs(deadline));
  }

  /**
   * The beat stream stored a frame of `term` whose write was sent at `sentAt` (the emitter, with
   * `server` fencing). Only the latest send time counts; a frame of an older term is ignored.
   */
  beatStored(term: number, sentAt: number): void {
    const known = Atomics.load(this.#storedTerm, 0);
    if (term < known) return;
    const us = toUs(sentAt);
    if (term === known && us <= Atomics.load(this.#storedSentUs, 0)) return;
    Atomics.store(this.#storedSentUs, 0, us);
    Atomics.store(this.#storedTerm, 0, term);
  }

  /** The send time (ms) of the latest frame of `term` the beat stream stored, or undefined. */
  beatStoredAt(term: number): number | undefined {
    if (Atomics.load(this.#storedTerm, 0) !== term) return undefined;
    const us = Atomics.load(this.#storedSentUs, 0);
    return us > 0n ? Number(us) / 1000 : undefined;
  }

  /** Closes the fence: nothing may be published until it is opened again. */
  close(): void {
    Atomics.store(this.#deadlineUs, 0, 0n);
    Atomics.store(this.#quorumUs, 0, 0n);
  }

  /** The term one may publish under at `now`, or 0 when the fence is closed or expired. */
  term(now: number): number {
    return now * 1000 < Number(Atomics.load(this.#deadlineUs, 0)) ? Atomics.load(this.#term, 0) : 0;
  }

  /**
   * The term whose lease a quorum write holds at `now` (not the KV-outage grace), a write sent
   * after `sentAfter` (ms), or 0: the only term that may publish straight to the beat subject when
   * the beat stream does not answer.
   */
  quorumTerm(now: number, sentAfter = -Infinity): number {
    if (now * 1000 >= Number(Atomics.load(this.#quorumUs, 0))) return 0;
    if (sentAfter * 1000 >= Number(Atomics.load(this.#quorumSentUs, 0))) return 0;
    return this.term(now);
  }
}
