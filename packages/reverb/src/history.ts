/**
 * Report history from the report stream (SPEC 8): a page of reports from a beat, from a
 * cursor, or the newest ones. The start is found by binary search over stream sequences with
 * single-message lookups (reports are stored in bar order), so a query costs about
 * log2(stream length) lookups plus one read of `limit` reports, whatever the stream holds.
 */
import type { BarReport } from '@backbeat/contracts';
import { clusterNames, type Bus, type StoredMsg } from '@backbeat/transport';

/** One page of reports, oldest first. */
export interface ReportPage {
  readonly reports: BarReport[];
  /** Pass as `cursor` to get the next page; undefined when this page reached the end. */
  readonly nextCursor: string | undefined;
}

/** What {@link readReports} returns. */
export interface ReportQuery {
  /** Reports whose from_beat is at least this. */
  readonly fromBeat?: number;
  /** A `nextCursor` of an earlier page (wins over fromBeat). */
  readonly cursor?: string;
  /** At most this many. */
  readonly limit: number;
}

const dec = new TextDecoder();

/** The report in a stored message, or undefined when it is not one (never throws). */
export function decodeStoredReport(m: StoredMsg): BarReport | undefined {
  try {
    const r = JSON.parse(dec.decode(m.data)) as BarReport;
    return typeof r === 'object' && r !== null && Number.isSafeInteger(r.from_beat) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** from_beat of the report at or after `seq` and that message's sequence (beat -1 when not a report). */
async function beatAt(bus: Bus, stream: string, seq: number): Promise<{ seq: number; beat: number } | undefined> {
  const m = await bus.getStreamMsg(stream, { seq });
  return m && { seq: m.seq, beat: decodeStoredReport(m)?.from_beat ?? -1 };
}

/**
 * First sequence in [lo, hi] whose report has from_beat >= fromBeat (hi + 1 when none).
 * Reports are stored one per bar, so from_beat grows almost linearly with the sequence: an
 * interpolation guess lands at or next to the answer, and a binary search finishes between
 * the bounds the guesses leave (a few lookups on a stream of any length).
 */
async function seqOfBeat(bus: Bus, stream: string, lo: number, hi: number, fromBeat: number): Promise<number> {
  let end = hi + 1;
  const first = await beatAt(bus, stream, lo);
  if (!first || first.beat >= fromBeat) return lo;
  const last = await beatAt(bus, stream, hi);
  if (!last || last.beat < fromBeat) return hi + 1;
  // Invariant: the report at lo - 1 ... is below fromBeat (lo = first.seq + 1), the one at `end` is not.
  let loBeat = first.beat;
  let hiBeat = last.beat;
  lo = first.seq + 1;
  end = last.seq;
  for (let guesses = 0; lo < end; guesses++) {
    const span = end - lo;
    let mid = Math.floor((lo + end) / 2);
    if (guesses < 3 && hiBeat > loBeat) {
      mid = lo + Math.floor(((fromBeat - loBeat) / (hiBeat - loBeat)) * span);
      mid = Math.min(end - 1, Math.max(lo, mid));
    }
    const m = await beatAt(bus, stream, mid);
    if (!m || m.seq >= end) {
      end = mid;
      continue;
    }
    if (m.beat < fromBeat) {
      lo = m.seq + 1;
      loBeat = m.beat;
    } else {
      end = mid;
      hiBeat = m.beat;
    }
  }
  return lo;
}

/**
 * A page of reports, oldest first: from a cursor, from a beat, or the newest `limit`.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function readReports(bus: Bus, clusterId: string, q: ReportQuery): Promise<ReportPage> {
  const stream = clusterNames(clusterId).reportStream;
  const { firstSeq, lastSeq, messages } = await bus.streamState(stream);
  if (messages === 0) return { reports: [], nextCursor: undefined };
  let start: number;
  if (q.cursor !== undefined) start = Math.max(firstSeq, Number(q.cursor));
  else if (q.fromBeat !== undefined) start = await seqOfBeat(bus, stream, firstSeq, lastSeq, q.fromBeat);
  else start = Math.max(firstSeq, lastSeq - q.limit + 1);
  if (start > lastSeq) return { reports: [], nextCursor: undefined };
  // Single-message lookups, pipelined on the connection: no consumer to create and delete.
  const msgs: StoredMsg[] = [];
  for (let seq = start; seq <= lastSeq && msgs.length < q.limit; ) {
    const batch = Array.from({ length: Math.min(q.limit - msgs.length, lastSeq - seq + 1) }, (_, i) => bus.getStreamMsg(stream, { seq: seq + i }));
    const got = (await Promise.all(batch)).filter((m): m is StoredMsg => m !== undefined);
    const seen = new Set(msgs.map((m) => m.seq));
    for (const m of got) if (!seen.has(m.seq) && msgs.length < q.limit) msgs.push(m);
    seq = (got.at(-1)?.seq ?? seq + batch.length - 1) + 1;
    if (got.length === 0) break;
  }
  msgs.sort((a, b) => a.seq - b.seq);
  const reports = msgs.map(decodeStoredReport).filter((r): r is BarReport => r !== undefined);
  const last = msgs.at(-1)?.seq ?? lastSeq;
  return { reports, nextCursor: last < lastSeq ? String(last + 1) : undefined };
}
