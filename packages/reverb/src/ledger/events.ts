/**
 * What goes into the bar ledger and what comes out (docs/spec.md §9 Reverb). The shell turns
 * consumer deliveries, stream reads, downbeats and store answers into events, and carries out
 * the effects: publish, dead-letter, acknowledge, metrics, logs.
 */
import type { TempoMap } from '@backbeat/core';
import type { BarReport } from '@backbeat/contracts';
import type { Headers } from '@backbeat/transport';
import type { SignatureCheck, TrustStore } from '../trust.js';
import type { Downbeat } from './report-timing.js';
import type { IssueKind } from './issue-kinds.js';

/**
 * Where a claim came from: a first delivery, a redelivery, or the claim stream re-read at
 * start (`history`: already handled by this replica before it stopped, so never sent to the
 * dead-letter subject again).
 */
export type ClaimSource = 'live' | 'redelivered' | 'history';

/** What became of a claim: counted, refused (the reason), or a message already counted. */
export type IngestOutcome = 'accepted' | IssueKind | 'duplicate';

/** One claim-stream message (or a claim given without a sequence: seq 0). */
export interface ClaimEvent {
  readonly type: 'claim';
  /** The shell's token for this claim, echoed by its `outcome` effect. */
  readonly id: number;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** When the stream stored it (ms since the epoch). */
  readonly storedAt: number;
  readonly source: ClaimSource;
  readonly seq: number;
  /** The wall clock when it is counted: an HLC more than `maxForwardSkewMs` ahead is not adopted. */
  readonly wall: number;
  /** The beat followed now: where the claim was stored when no tempo map is known yet (-1: unknown). */
  readonly followedBeat: number;
  /** Its signature's check, when a verify thread made it. */
  readonly signature?: SignatureCheck;
}

/** Events of the ledger. */
export type LedgerEvent =
  | ClaimEvent
  /** A direct read of the stream handed over every message up to `seq`. */
  | { readonly type: 'read-through'; readonly seq: number }
  | { readonly type: 'downbeat'; readonly beat: number; readonly at: Downbeat }
  | { readonly type: 'tempo'; readonly map: TempoMap | null }
  | { readonly type: 'trust'; readonly trust: TrustStore | undefined }
  /** At start: the last report in the report stream. */
  | {
      readonly type: 'last-report';
      readonly fromBeat: number;
      readonly cut: number | undefined;
      readonly storedAt: number;
    }
  /** At start: the bars to rebuild, from `firstBar` to the one before `currentBar`. */
  | { readonly type: 'rebuild'; readonly firstBar: number; readonly currentBar: number }
  /** The start-up rebuild is done: reports go out from now on. */
  | { readonly type: 'recovered' }
  /** Build the report of bar `fromBeat` (every claim it must count is handled). */
  | { readonly type: 'build'; readonly fromBeat: number; readonly wall: number; readonly hlc: string }
  /** The report in flight was stored. */
  | { readonly type: 'stored' }
  /** The report stream already held a copy of the bar's report (read back: its report, cut and builder). */
  | {
      readonly type: 'found-stored';
      readonly report: BarReport | undefined;
      readonly cut: number | undefined;
      readonly storedBy: string | undefined;
    }
  /** The report in flight was not stored (`store`), or the stored copy could not be read (`read`). */
  | { readonly type: 'store-failed'; readonly why: 'store' | 'read' }
  /** Drop reported windows past their age or count. */
  | { readonly type: 'sweep' };

/** Effects of the ledger. */
export type LedgerEffect =
  | { readonly type: 'outcome'; readonly id: number; readonly outcome: IngestOutcome }
  | {
      readonly type: 'dead-letter';
      readonly data: Uint8Array;
      readonly headers: Headers;
      readonly reason: IssueKind;
      readonly message: string;
    }
  | { readonly type: 'claim-counted'; readonly outcome: 'accepted' | 'late' | 'rejected'; readonly reason?: IssueKind }
  | { readonly type: 'claim-accepted'; readonly windowId: string }
  /** Merge this HLC into the replica's clock (its adoption was decided here). */
  | { readonly type: 'merge-hlc'; readonly hlc: string }
  /** Store this report with this cut (then answer with stored, found-stored or store-failed). */
  | { readonly type: 'store-report'; readonly fromBeat: number; readonly report: BarReport; readonly cut: number }
  /** The report cannot be built yet: claims above a gap in the handled sequences. */
  | { readonly type: 'report-waits'; readonly fromBeat: number; readonly cut: number; readonly maxSeq: number }
  /** The bar was reported already (nothing to do). */
  | { readonly type: 'report-known'; readonly fromBeat: number }
  /**
   * The bar's report is the record: `report` is the stored copy. `ownCopy`: the stored copy is
   * this replica's (stored now, or found on a retry whose first answer was lost); the server
   * broadcasts it, or, where it cannot (docs/spec.md §9 Reverb), this replica does.
   */
  | {
      readonly type: 'report-done';
      readonly fromBeat: number;
      readonly report: BarReport;
      readonly due: number;
      readonly builtHere: boolean;
      readonly ownCopy: boolean;
      readonly cut: number;
      readonly moved: number;
    }
  | { readonly type: 'report-failed'; readonly fromBeat: number; readonly why: 'store' | 'read' | 'not-this-bar' }
  | {
      readonly type: 'log';
      readonly level: 'debug' | 'info' | 'warn';
      readonly msg: string;
      readonly fields: Record<string, unknown>;
    };

/** What a step returns. */
export interface StepResult<S> {
  readonly state: S;
  readonly effects: LedgerEffect[];
}
