/**
 * Reading the claim stream directly (docs/spec.md §9 Reverb): at start, bar by bar, to
 * rebuild what a stop lost, and before a report when the consumer is behind. Reads go page
 * by page, one short-lived reader per page, each page at most `pageLimit` messages: with the
 * claim stream's per-message limit that caps the bytes held by a read (see {@link pageLimitFor}).
 */
import { CLAIM_HEADER_ALLOWANCE, CLAIM_MAX_BYTES, type Bus, type StoredMsg } from '@backbeat/transport';

/** Default bytes a read of the claim stream holds at once (32 MiB). */
export const DEFAULT_READ_BYTES = 32 * 1024 * 1024;
/** Most messages per page, whatever the budget. */
export const MAX_PAGE = 50_000;

/**
 * Messages per page so that a page of the largest messages the claim stream stores (a claim
 * of CLAIM_MAX_BYTES and its headers) stays within `budgetBytes`; at least 16.
 */
export function pageLimitFor(budgetBytes: number): number {
  return Math.min(MAX_PAGE, Math.max(16, Math.floor(budgetBytes / (CLAIM_MAX_BYTES + CLAIM_HEADER_ALLOWANCE))));
}

/** Where a reader starts: at the first message stored at or after a time, or at a sequence. */
export type ReadStart = { readonly fromTime: number } | { readonly fromSeq: number };

/**
 * A cursor over the claim stream that hands messages over in sequence order, page by page,
 * and stops where asked (before a store time, after a sequence). What a page read beyond the
 * stop is kept for the next call: at most one page is ever held.
 */
export class ClaimStreamReader {
  readonly #bus: Bus;
  readonly #stream: string;
  readonly #pageLimit: number;
  #start: ReadStart;
  #page: StoredMsg[] = [];
  #at = 0;
  /** The last sequence handed over (undefined before the first). */
  lastSeq: number | undefined;
  /** When the last message handed over was stored. */
  lastTime: number | undefined;
  /** Messages handed over. */
  count = 0;

  constructor(bus: Bus, stream: string, start: ReadStart, pageLimit: number) {
    this.#bus = bus;
    this.#stream = stream;
    this.#start = start;
    this.#pageLimit = pageLimit;
  }

  /**
   * Hands over, in order, every message stored before `beforeTime` and at most `toSeq`;
   * returns true when it stopped at such a message, false when the stream had no more.
   * @throws the bus's errors (the stream cannot be read now); a later call goes on from where this one stopped
   */
  async read(
    each: (m: StoredMsg) => void,
    stop: { readonly beforeTime?: number; readonly toSeq?: number },
  ): Promise<boolean> {
    const before = stop.beforeTime ?? Infinity;
    const end = stop.toSeq ?? Infinity;
    for (;;) {
      if (this.#at >= this.#page.length) {
        const page = await this.#bus.readStream({ stream: this.#stream, limit: this.#pageLimit, ...this.#start });
        if (page.length === 0) return false;
        this.#page = page;
        this.#at = 0;
        this.#start = { fromSeq: page.at(-1)!.seq + 1 };
      }
      while (this.#at < this.#page.length) {
        const m = this.#page[this.#at]!;
        if (m.seq > end || m.time >= before) return true;
        this.#page[this.#at++] = undefined as unknown as StoredMsg; // let it go
        each(m);
        this.count++;
        this.lastSeq = m.seq;
        this.lastTime = m.time;
      }
      if (this.lastSeq !== undefined && this.lastSeq >= end) return true;
    }
  }
}
