/**
 * Which claim-stream sequences a replica has handled (docs/spec.md §9 Reverb, "A report counts
 * what the stream acknowledged"). Everything up to a floor is handled; above it, the sequences
 * handled out of order are kept until the gap below them closes. A delivery of a handled
 * sequence (a redelivery, or a message the replica read from the stream itself while its
 * consumer was stalled) is skipped. Pure: no I/O, no clock.
 */

/** The set of handled stream sequences: a floor plus the ones above it. */
export class HandledSeqs {
  #upTo: number | undefined;
  #above = new Set<number>();

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

  /**
   * Marks one sequence handled. The first one sets the floor below it when none was set (a
   * consumer delivers in order from where its replica left off).
   */
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

  /** Moves the floor over the handled run above it. */
  #close(): void {
    while (this.#above.delete(this.#upTo! + 1)) this.#upTo!++;
  }
}
