/**
 * The start-up rebuild (docs/spec.md §9 Reverb, crash safety): reads the last stored report,
 * then the claims stored since one beat before the first bar without a report, bar by bar,
 * and stores each bar's report before it reads the next one's claims, so memory holds one bar
 * and one page of claims whatever the outage; then reads the claims of the bar in progress.
 * The I/O only: what the reads mean is the ledger's (ledger/), what to rebuild is
 * ledger/recovery-plan.ts's.
 */
import { timeOf, type TempoMap } from '@backbeat/core';
import { clusterNames, readTempoMap, subjects, type StoredMsg } from '@backbeat/transport';
import { ClaimStreamReader, pageLimitFor } from './claim-stream.js';
import type { ClaimSource } from './ledger/events.js';
import { planRecovery } from './ledger/recovery-plan.js';
import { barLengthOf } from './ledger/state.js';
import { decodeStoredReport } from './history.js';
import { claimCutOf } from './publish.js';
import type { ReportPumpHost } from './report-pump.js';

/** A bar rebuilt at start counts the claims stored up to one beat, and at least this long, after it ended (ms). */
export const REBUILD_GRACE_MS = 1000;

/** What the rebuild needs of its replica besides the pump's host. */
export interface RebuildHost extends Omit<ReportPumpHost, 'ingestStored' | 'rebuildFrom'> {
  /** This replica's durable consumer. */
  readonly consumer: string;
  /** The tempo map the SDK follows, else the one read at start. */
  tempoMap(): TempoMap | null;
  /** Keeps the tempo map read from the state bucket until the SDK has one. */
  setStateMap(map: TempoMap | null): void;
  /** Hands a message read from the claim stream to the ledger. */
  ingestStored(m: StoredMsg, source: ClaimSource): void;
  /** Stores the report of `fromBeat` (built from what was read; no catch-up read). */
  publish(fromBeat: number): Promise<boolean>;
  /** Runs `fn` until it succeeds, waiting `retryMs` after each failure; undefined once the replica stops. */
  untilDone<T>(what: string, fn: () => Promise<T>): Promise<T | undefined>;
  sleep(ms: number): Promise<void>;
}

/** Where the consumer starts and what the rebuild read; undefined when the replica stopped meanwhile. */
export interface RebuildResult {
  /** Where a new durable starts (undefined: only new claims). */
  readonly startTime: number | undefined;
  /** Every claim up to this sequence is handled (undefined: the consumer delivers them). */
  readonly handledUpTo: number | undefined;
  /** Where the re-read began (ms since the epoch). */
  readonly readFrom: number | undefined;
}

/**
 * Rebuilds the bars a stop lost, however many; `floor` and `firstSeq` are the claim stream's
 * last and first sequences at start (firstSeq undefined when it is empty).
 */
export async function rebuild(
  h: RebuildHost,
  floor: number,
  firstSeq: number | undefined,
): Promise<RebuildResult | undefined> {
  const { bus, clusterId, logger, catchUpBars, clock, readBytes } = h.options;
  const names = clusterNames(clusterId);
  // The SDK's watch may not have delivered the map yet: read it from the state bucket (the
  // pulse owns that bucket: opened, never created here).
  const read = h.tempoMap()
    ? null
    : await bus
        .kv(names.stateBucket, { create: false })
        .then(readTempoMap)
        .catch(() => null);
  const stateMap = h.tempoMap() ?? read?.map ?? null;
  h.setStateMap(stateMap);
  const map = stateMap;
  const last = await bus
    .getStreamMsg(names.reportStream, { lastBySubject: subjects(clusterId).reportStore })
    .catch(() => undefined);
  const lastReport = last && decodeStoredReport(last);
  if (last && lastReport)
    h.apply({
      type: 'last-report',
      fromBeat: lastReport.from_beat,
      cut: claimCutOf(last.headers),
      storedAt: last.time,
    });
  const stream = names.statusStream;
  const consumers = await bus.listConsumers(stream).catch(() => undefined);
  const mine = consumers?.find((c) => c.name === h.consumer);
  // Nothing to rebuild. A new durable takes only new claims; one that exists (or may: the
  // list failed) resumes where it stopped and delivers what was stored meanwhile, none of
  // it handled yet.
  const handledUpTo = consumers !== undefined && mine === undefined ? floor : undefined;
  const nothing = { startTime: undefined, handledUpTo, readFrom: undefined };
  if (!map) return nothing;
  const oldest =
    firstSeq === undefined ? undefined : await bus.getStreamMsg(stream, { seq: firstSeq }).catch(() => undefined);
  const barLength = barLengthOf(h.ledger);
  const lastReported = lastReport?.from_beat;
  const plan = planRecovery({
    map,
    barLength,
    now: clock.now(),
    lastReported,
    oldestClaimAt: oldest?.time,
    maxBars: catchUpBars,
  });
  if (!plan) return nothing;
  if (plan.skippedBars > 0)
    logger.warn(
      { bars: plan.skippedBars, catch_up_bars: catchUpBars },
      'bars older than the oldest stored claim and beyond --catch-up-bars; no report for them',
    );
  h.apply({ type: 'rebuild', firstBar: plan.firstBar, currentBar: plan.currentBar });
  const reader = new ClaimStreamReader(bus, stream, { fromTime: plan.readFrom }, pageLimitFor(readBytes));
  const delivered = mine?.deliveredSeq ?? 0;
  const each = (m: StoredMsg) => h.ingestStored(m, m.seq <= delivered ? 'history' : 'live');
  // A sequential read covers every sequence up to the last it handed over, gaps in the stream included.
  const covered = () => reader.lastSeq !== undefined && h.apply({ type: 'read-through', seq: reader.lastSeq });
  const readBefore = async (beforeTime: number): Promise<true> => {
    await reader.read(each, { beforeTime });
    covered();
    return true;
  };
  // Reads every claim up to `toSeq`; a short answer (a replica behind its stream) is read again, never taken as all
  // there is.
  const readTo = async (toSeq: number): Promise<true> => {
    const stopped = await reader.read(each, { toSeq });
    covered();
    if (!stopped && reader.lastSeq !== undefined && reader.lastSeq < toSeq) {
      throw new Error(`the claim stream answered up to ${reader.lastSeq} of ${toSeq}`);
    }
    return true;
  };
  const { ledger } = h;
  const missed = Math.max(0, (ledger.dueUpTo + barLength - plan.firstBar) / barLength);
  if (missed > 0)
    logger.info(
      { from_bar: plan.firstBar, missed_bars: missed, consumer: h.consumer, resumed: mine !== undefined },
      'rebuilding missed bars from the claim stream',
    );
  // Bar by bar, in order: the claims stored until the first beat of the next bar ended, and
  // at least REBUILD_GRACE_MS after the bar (a live replica builds a report sooner), then the report.
  for (;;) {
    if (!h.active()) return undefined;
    const next: number = ledger.reportedUpTo! + barLength;
    if (next > ledger.dueUpTo) break;
    const m = h.tempoMap() ?? map;
    const horizon = Math.max(timeOf(m, next + barLength + 1), timeOf(m, next + barLength) + REBUILD_GRACE_MS);
    if ((await h.untilDone('reading the claim stream to rebuild a bar', () => readBefore(horizon))) === undefined)
      return undefined;
    // Every claim the last stored report accounts for is read before this bar's report names a later cut.
    const cut = ledger.reportedCut ?? 0;
    if (
      (ledger.handled.upTo ?? 0) < cut &&
      (await h.untilDone('reading the claim stream to rebuild a bar', () => readTo(cut))) === undefined
    )
      return undefined;
    if (!(await h.publish(next))) await h.sleep(h.options.retryMs);
  }
  // The bar in progress: every claim stored so far.
  const target = await h.untilDone(`reading stream ${stream}`, async () => (await bus.streamState(stream)).lastSeq);
  if (target === undefined || (await h.untilDone('reading the claim stream', () => readTo(target))) === undefined)
    return undefined;
  logger.info(
    { claims: reader.count, from_bar: plan.firstBar, missed_bars: missed, up_to_seq: target },
    'rebuilt from the claim stream',
  );
  // A new durable starts a little before the last claim read (stream times may repeat); what it delivers again is
  // skipped by sequence.
  const startTime = reader.lastTime !== undefined ? reader.lastTime - 1000 : plan.readFrom;
  return { startTime, handledUpTo: target, readFrom: plan.readFrom };
}
