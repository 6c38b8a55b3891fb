/**
 * Report history from the report stream (docs/spec.md §9 Reverb): a page of reports from a beat, from a
 * cursor, or the newest ones. Reports are stored in bar order, one per bar, so the start of
 * a beat is found by interpolation over stream sequences (binary search when that misses):
 * a query from a beat costs two parallel lookups and one read of `limit` reports, whatever
 * the stream holds; a cursor query one read.
 */
import type { BarReport } from '@backbeat/contracts';
import { InvalidArgumentError } from '@backbeat/core';
import { clusterNames, subjects, type Bus, type StoredMsg } from '@backbeat/transport';

/** One page of reports, oldest first. */
export interface ReportPage {
  readonly reports: BarReport[];
  /** Pass as `cursor` to get the next page; undefined when this page reached the end. */
  readonly nextCursor: string | undefined;
}

/** What {@link readReports} asks for. */
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

/** A stored message's sequence and report from_beat (-1 when it is not a report). */
interface Probe {
  readonly seq: number;
  readonly beat: number;
}

const probeOf = (m: StoredMsg): Probe => ({ seq: m.seq, beat: decodeStoredReport(m)?.from_beat ?? -1 });

/** from_beat of the report at or after `seq` and that message's sequence. */
async function beatAt(bus: Bus, stream: string, seq: number): Promise<Probe | undefined> {
  const m = await bus.getStreamMsg(stream, { seq });
  return m && probeOf(m);
}

/**
 * First sequence in (below.seq, above.seq] whose report has from_beat >= fromBeat, given
 * that the report at `below` is under it and the one at `above` is not. Reports are stored
 * one per bar, so from_beat grows almost linearly with the sequence: an interpolation guess
 * lands at or next to the answer, and a binary search finishes between the bounds the
 * guesses leave (a few lookups on a stream of any length).
 */
async function seqOfBeat(bus: Bus, stream: string, below: Probe, above: Probe, fromBeat: number): Promise<number> {
  // Invariant: every report before lo is below fromBeat, the one at `end` is not.
  let lo = below.seq + 1;
  let end = above.seq;
  let loBeat = below.beat;
  let hiBeat = above.beat;
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

/** Reports read on either side of the interpolated start. */
const WINDOW_SLACK = 4;

/** The page of the first `limit` of `msgs` (which read one more when there is more). */
function pageOf(msgs: readonly StoredMsg[], limit: number): ReportPage {
  const page = msgs.slice(0, limit);
  const reports = page.map(decodeStoredReport).filter((r): r is BarReport => r !== undefined);
  const last = page.at(-1);
  return { reports, nextCursor: msgs.length > limit && last ? String(last.seq + 1) : undefined };
}

/** `limit` messages from `fromSeq` as a page: one reader for limit + 1 (the extra says whether there is more). */
async function readPage(bus: Bus, stream: string, fromSeq: number, limit: number): Promise<ReportPage> {
  return pageOf(await bus.readStream({ stream, fromSeq, limit: limit + 1 }), limit);
}

/**
 * The page from the first report with from_beat >= fromBeat, in two rounds on a stream of
 * any length: the first and last reports in parallel, then one reader from just before the
 * interpolated start. When the reader shows the start in its window (the report before it
 * under fromBeat, the start in it) that is the page; else (tempo changes, gaps) the search
 * narrows from the bounds seen so far and a second reader reads the page.
 */
async function pageFromBeat(
  bus: Bus,
  stream: string,
  lastSubject: string,
  fromBeat: number,
  limit: number,
): Promise<ReportPage> {
  const [first, last] = await Promise.all([
    bus.getStreamMsg(stream, { seq: 1 }),
    bus.getStreamMsg(stream, { lastBySubject: lastSubject }),
  ]);
  if (!first || !last) return { reports: [], nextCursor: undefined };
  let below = probeOf(first);
  let above = probeOf(last);
  if (below.beat >= fromBeat) return readPage(bus, stream, below.seq, limit);
  if (above.beat < fromBeat) return { reports: [], nextCursor: undefined };
  const span = above.seq - below.seq;
  const guess = below.seq + Math.round(((fromBeat - below.beat) / (above.beat - below.beat)) * span);
  // From a little before the guess, a little longer than the page (a from_beat between two
  // bars' lands one or two after the guess), so a near miss needs no second read.
  const from = Math.max(below.seq, Math.min(above.seq, guess) - WINDOW_SLACK / 2);
  const window = await bus.readStream({ stream, fromSeq: from, limit: limit + WINDOW_SLACK + 1 });
  const probes = window.map(probeOf);
  const at = probes.findIndex((p) => p.beat >= fromBeat);
  if (at > 0) {
    const tail = window.slice(at);
    if (tail.length > limit || window.length < limit + WINDOW_SLACK + 1) return pageOf(tail, limit);
    // The start lay further in the window: read on from where it ended.
    const more = await bus.readStream({ stream, fromSeq: window.at(-1)!.seq + 1, limit: limit + 1 - tail.length });
    return pageOf([...tail, ...more], limit);
  }
  if (at === 0) above = probes[0]!;
  else if (probes.length > 0) below = probes.at(-1)!;
  if (above.seq <= below.seq + 1) return readPage(bus, stream, above.seq, limit);
  return readPage(bus, stream, await seqOfBeat(bus, stream, below, above, fromBeat), limit);
}

/**
 * A page of reports, oldest first: from a cursor, from a beat, or the newest `limit`.
 * @throws InvalidArgumentError for a cursor that is not a sequence, a fromBeat that is not a number or a limit below 1
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function readReports(bus: Bus, clusterId: string, q: ReportQuery): Promise<ReportPage> {
  if (!Number.isSafeInteger(q.limit) || q.limit < 1)
    throw new InvalidArgumentError('limit', `must be an integer >= 1, got ${q.limit}`);
  const stream = clusterNames(clusterId).reportStream;
  if (q.cursor !== undefined) {
    const seq = Number(q.cursor);
    if (!/^[0-9]{1,15}$/.test(q.cursor) || !Number.isSafeInteger(seq))
      throw new InvalidArgumentError('cursor', `must be a sequence number, got '${q.cursor}'`);
    return readPage(bus, stream, Math.max(1, seq), q.limit);
  }
  if (q.fromBeat !== undefined && !Number.isFinite(q.fromBeat))
    throw new InvalidArgumentError('fromBeat', `must be a number, got ${q.fromBeat}`);
  if (q.fromBeat !== undefined) return pageFromBeat(bus, stream, subjects(clusterId).reportStore, q.fromBeat, q.limit);
  const { firstSeq, lastSeq, messages } = await bus.streamState(stream);
  if (messages === 0) return { reports: [], nextCursor: undefined };
  return readPage(bus, stream, Math.max(firstSeq, lastSeq - q.limit + 1), q.limit);
}
