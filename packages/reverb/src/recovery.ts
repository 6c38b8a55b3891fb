/**
 * What a starting replica must rebuild (SPEC 8: a crash loses nothing). Pure: from the tempo
 * map, the last report in the stream and the time, which bars ended without a report and
 * from when the claim stream must be re-read to rebuild them and the bar in progress.
 */
import { positionAt, timeOf, type TempoMap } from '@backbeat/core';

/** The rebuild to do at start. */
export interface RecoveryPlan {
  /** First beat of the first bar without a report (the bar in progress when none ended unreported). */
  readonly firstBar: number;
  /** First beat of the bar in progress. */
  readonly currentBar: number;
  /** Re-read claims stored from this time (ms since the epoch): one beat before firstBar. */
  readonly readFrom: number;
  /** Bars skipped because they lie beyond `maxBars` (reported in the log). */
  readonly skippedBars: number;
}

/** Options of {@link planRecovery}. */
export interface RecoveryInput {
  readonly map: TempoMap;
  readonly barLength: number;
  /** clock.now(). */
  readonly now: number;
  /** from_beat of the last report stored, if any. */
  readonly lastReported: number | undefined;
  /** Rebuild at most this many ended bars. */
  readonly maxBars: number;
}

/**
 * The plan, or null before the tempo map's first beat. Without any stored report the bar
 * before the current one is rebuilt too (a replica that died in its first bar).
 */
export function planRecovery(o: RecoveryInput): RecoveryPlan | null {
  const pos = positionAt(o.map, o.now);
  if (!pos) return null;
  const bar = o.barLength;
  const currentBar = pos.beatIndex - (pos.beatIndex % bar);
  let firstBar = o.lastReported === undefined ? Math.max(0, currentBar - bar) : Math.min(currentBar, o.lastReported - (o.lastReported % bar) + bar);
  const oldest = Math.max(0, currentBar - o.maxBars * bar);
  const skippedBars = firstBar < oldest ? (oldest - firstBar) / bar : 0;
  firstBar = Math.max(firstBar, oldest);
  const start = timeOf(o.map, firstBar);
  const readFrom = start - (timeOf(o.map, firstBar + 1) - start);
  return { firstBar, currentBar, readFrom, skippedBars };
}
