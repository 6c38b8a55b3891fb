/**
 * Reading the claim stream directly, page by page: at start (to rebuild what a stop lost) and
 * before a report when the consumer is behind. One short-lived reader per page.
 */
import type { Bus, StoredMsg } from '@backbeat/transport';

/** Messages per read. */
export const READ_PAGE = 50_000;

/** Where a read starts and ends. */
export interface ClaimRange {
  readonly stream: string;
  /** The first message stored at or after this time (ms since the epoch)... */
  readonly fromTime?: number;
  /** ...or from this sequence. */
  readonly fromSeq?: number;
  /** Stop after this sequence (default: the end of the stream). */
  readonly toSeq?: number;
}

/**
 * Hands every message of the range to `each`, in sequence order; returns how many and the
 * last sequence read (undefined when none). A read may come back short (a server that is
 * recovering answers what it has): reading goes on from the last message until a read
 * returns nothing or `toSeq` is reached, so the caller can tell a complete read (lastSeq at
 * or past toSeq) from one that stopped early.
 * @throws the bus's errors (the stream cannot be read now)
 */
export async function readClaims(bus: Bus, range: ClaimRange, each: (m: StoredMsg) => void): Promise<{ count: number; lastSeq: number | undefined }> {
  const end = range.toSeq ?? Infinity;
  let count = 0;
  let lastSeq: number | undefined;
  let page = await bus.readStream({ stream: range.stream, limit: READ_PAGE, ...(range.fromTime !== undefined ? { fromTime: range.fromTime } : { fromSeq: range.fromSeq ?? 1 }) });
  while (page.length > 0) {
    for (const m of page) {
      if (m.seq > end) return { count, lastSeq };
      each(m);
      count++;
      lastSeq = m.seq;
    }
    if (lastSeq! >= end) break;
    page = await bus.readStream({ stream: range.stream, fromSeq: lastSeq! + 1, limit: READ_PAGE });
  }
  return { count, lastSeq };
}
