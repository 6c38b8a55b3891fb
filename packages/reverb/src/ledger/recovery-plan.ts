/**
 * What a starting replica must rebuild (docs/spec.md §9 Reverb, crash safety: nothing
 * acknowledged is lost, however long reverb was down). Pure: from the tempo map, the last
 * report in the stream, the oldest claim the claim stream still holds and the time, which
 * bars ended without a report and from when the claim stream must be re-read to rebuild them
 * and the bar in progress.
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
  /** Bars skipped: older than the oldest claim stored and beyond `maxBars` (reported in the log). */
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
  /**
   * When the oldest claim the claim stream holds was stored (undefined: the stream is empty).
   * Every bar from the one it falls in is rebuilt, however many.
   */
  readonly oldestClaimAt?: number;
  /** Bars older than the oldest stored claim (they can only be empty) are rebuilt at most this many back. */
  readonly maxBars: number;
}

/**
 * The plan, or null before the tempo map's first beat. Without any stored report every bar
 * from the oldest stored claim's is rebuilt (a replica stopped before it stored a report),
 * or, with no claim stored, the bar before the current one (a replica that died in its first
 * bar). Bars whose claims are in the stream are always rebuilt; older, empty ones at most
 * `maxBars` back from the current bar.
 */
export function planRecovery(o: RecoveryInput): RecoveryPlan | null {
  const pos = positionAt(o.map, o.now);
  if (!pos) return null;
  const bar = o.barLength;
  const barOf = (beat: number) => beat - (beat % bar);
  const currentBar = barOf(pos.beatIndex);
  const oldestClaimBar =
    o.oldestClaimAt === undefined
      ? undefined
      : Math.min(currentBar, barOf(positionAt(o.map, o.oldestClaimAt)?.beatIndex ?? 0));
  let firstBar: number;
  if (o.lastReported !== undefined) firstBar = Math.min(currentBar, barOf(o.lastReported) + bar);
  else firstBar = oldestClaimBar ?? Math.max(0, currentBar - bar);
  const oldest = Math.min(oldestClaimBar ?? currentBar, Math.max(0, currentBar - o.maxBars * bar));
  const skippedBars = firstBar < oldest ? (oldest - firstBar) / bar : 0;
  firstBar = Math.max(firstBar, oldest);
  const start = timeOf(o.map, firstBar);
  const readFrom = start - (timeOf(o.map, firstBar + 1) - start);
  return { firstBar, currentBar, readFrom, skippedBars };
}
