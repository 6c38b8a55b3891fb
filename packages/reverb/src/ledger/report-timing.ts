/**
 * When a bar's report was due and what its timing fields say (docs/spec.md §9 Reverb): the closing downbeat
 * as received (else as the tempo map places it), the tempo drift between the bar's two
 * downbeats as received from the leader, and whether the report is built late. Pure.
 */
import { timeOf, type TempoMap } from '@backbeat/core';
import type { BeatInfo } from '@backbeat/sdk';

/** A downbeat as this replica received it. */
export interface Downbeat {
  readonly receivedAt: number;
  readonly scheduledAt: number;
  readonly source: BeatInfo['source'];
}

/** What {@link reportTiming} needs. */
export interface ReportTimingInput {
  readonly map: TempoMap | null;
  /** First beat of the bar. */
  readonly fromBeat: number;
  readonly barLength: number;
  /** The bar's own downbeat and the next one, when received. */
  readonly opening: Downbeat | undefined;
  readonly closing: Downbeat | undefined;
  /** clock.now() when the report is built. */
  readonly now: number;
}

/** The report's timing. */
export interface ReportTiming {
  /** When the report was due: the closing downbeat. */
  readonly due: number;
  /** Received interval minus scheduled interval of the two downbeats (0 unless both came from the leader). */
  readonly tempoDriftMs: number;
  /** Not built within one beat of its closing downbeat (a restart, or store retries). */
  readonly builtLate: boolean;
}

/** The timing of the report of bar `fromBeat`, built at `now`. */
export function reportTiming(o: ReportTimingInput): ReportTiming {
  const closing = o.fromBeat + o.barLength;
  const { map, opening: a, closing: b } = o;
  const due = b?.receivedAt ?? (map ? timeOf(map, closing) : o.now);
  const beatMs = map ? timeOf(map, closing + 1) - timeOf(map, closing) : 0;
  const tempoDriftMs =
    a && b && a.source === 'leader' && b.source === 'leader'
      ? b.receivedAt - a.receivedAt - (b.scheduledAt - a.scheduledAt)
      : 0;
  const builtLate = map ? o.now - timeOf(map, closing) > beatMs : false;
  return { due, tempoDriftMs, builtLate };
}
