/**
 * The client's clock offset from the leader, estimated from the leader's frames
 * (BACKBEAT-REQ-003, docs/spec.md §8 Degradation and grid timing): a frame scheduled at s on the
 * leader's clock is received at r = s + delay - offset on this one, with delay >= 0. The smallest
 * r - s over recent frames is therefore an upper bound of this clock's lead over the leader's, too
 * high by at most the network's smallest delay: a negative value (frames arriving before their
 * slot) means this clock is behind by at least that much.
 */

/** Frames the estimate looks back over. */
export const OFFSET_WINDOW = 32;

/** The estimate at one moment. */
export interface OffsetReading {
  /** This clock minus the leader's, ms (an upper bound), or null before the first frame. */
  readonly offsetMs: number | null;
  /** Frames the estimate rests on. */
  readonly samples: number;
}

/** Running minimum of (receipt - scheduled) over the last {@link OFFSET_WINDOW} frames. */
export class ClockOffsetEstimator {
  readonly #samples: number[] = [];
  #next = 0;
  #min: number | null = null;
  #reading: OffsetReading = { offsetMs: null, samples: 0 };

  /** Adds one frame's receipt minus its slot's scheduled time, ms. */
  sample(receiptMinusScheduled: number): void {
    if (!Number.isFinite(receiptMinusScheduled)) return;
    if (this.#samples.length < OFFSET_WINDOW) this.#samples.push(receiptMinusScheduled);
    else this.#samples[this.#next] = receiptMinusScheduled;
    this.#next = (this.#next + 1) % OFFSET_WINDOW;
    let m = Infinity;
    for (const v of this.#samples) if (v < m) m = v;
    this.#min = m;
    this.#reading = { offsetMs: m, samples: this.#samples.length };
  }

  /** {@link offsetMs} and {@link samples} as one read-only value (a new one after each sample). */
  get reading(): OffsetReading {
    return this.#reading;
  }

  /**
   * This clock minus the leader's, ms: an upper bound (it includes the smallest network
   * delay seen); null before the first frame.
   */
  get offsetMs(): number | null {
    return this.#min;
  }

  /** Frames the estimate rests on (at most {@link OFFSET_WINDOW}). */
  get samples(): number {
    return this.#samples.length;
  }
}
