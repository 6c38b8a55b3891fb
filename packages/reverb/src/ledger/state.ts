/**
 * The bar ledger's state and the questions asked of it (docs/spec.md §9 Reverb): which bars
 * are reported, where a claim-stream message is counted, which bar's report is due next, and
 * up to which stream sequence a report must have handled every claim. Pure: no I/O, timers or
 * clock reads; the windows are mutated in place by the ledger's step (copying them per claim
 * would cost the throughput the windows are built for).
 */
import { DEFAULT_BAR_LENGTH, positionAt, tempoAt, type TempoMap } from '@backbeat/core';
import type { BarReport } from '@backbeat/contracts';
import type { SignatureMode } from '../options.js';
import type { TrustStore } from '../trust.js';
import type { ClaimEvent } from './events.js';
import { HandledSeqs } from './handled-seqs.js';
import type { Downbeat } from './report-timing.js';
import type { WindowAggregation } from './window.js';
import { WindowStore } from './window-store.js';

/** Settings of one ledger (fixed for its life). */
export interface LedgerConfig {
  readonly clusterId: string;
  /** This replica's node id: a stored report naming it is this replica's own copy. */
  readonly nodeId: string;
  readonly signatures: SignatureMode;
  readonly maxClaimBytes: number;
  readonly replayBars: number;
  readonly maxClaimDelayMs: number;
  /** `--bar-length`: overrides the tempo map's. */
  readonly barLength: number | undefined;
  /** Reported windows are dropped this long after their last update, and beyond this many. */
  readonly windowTtlMs: number;
  readonly maxWindows: number;
}

/** A report built and handed out to be stored: nothing is counted until its outcome is known. */
export interface InFlight {
  readonly fromBeat: number;
  readonly report: BarReport;
  readonly cut: number;
  /** When the report was due (its closing downbeat). */
  readonly due: number;
}

/** Everything the ledger knows. Owned by the ledger: read it, change it only through step(). */
export interface LedgerState {
  readonly config: LedgerConfig;
  map: TempoMap | null;
  trust: TrustStore | undefined;
  readonly windows: WindowStore;
  /** Claim-stream sequences handled (counted, refused or skipped). */
  readonly handled: HandledSeqs;
  /** from_beat of the last bar whose report is stored; undefined before the first. */
  reportedUpTo: number | undefined;
  /** The claim cut of the last stored report: every message up to it is accounted for. */
  reportedCut: number | undefined;
  /** from_beat of the last bar that ended (its report is due); -1 before the first. */
  dueUpTo: number;
  /** True once the start-up rebuild is done. */
  recovered: boolean;
  /** When the last report found at start was stored. */
  lastStoredReportAt: number | undefined;
  /** Downbeats as received, by beat index (the last few bars). */
  readonly downbeats: Map<number, Downbeat>;
  /** The highest HLC physical time adopted from a claim (ms). */
  hlcPhysical: number;
  /** The report being stored, if any. */
  inFlight: InFlight | undefined;
  /** Claims that arrived while a report was in flight, in arrival order: counted once it is stored. */
  readonly held: ClaimEvent[];
}

/** A ledger with nothing counted yet. */
export function createLedger(config: LedgerConfig): LedgerState {
  const state: LedgerState = {
    config,
    map: null,
    trust: undefined,
    windows: undefined as unknown as WindowStore,
    handled: new HandledSeqs(),
    reportedUpTo: undefined,
    reportedCut: undefined,
    dueUpTo: -1,
    recovered: false,
    lastStoredReportAt: undefined,
    downbeats: new Map(),
    hlcPhysical: 0,
    inFlight: undefined,
    held: [],
  };
  const windows = new WindowStore({
    clusterId: config.clusterId,
    barLength: () => barLengthOf(state),
    ttlMs: config.windowTtlMs,
    maxWindows: config.maxWindows,
  });
  return Object.assign(state, { windows });
}

/** Beats per bar: the option, else the tempo map's, else DEFAULT_BAR_LENGTH. */
export function barLengthOf(s: LedgerState): number {
  return s.config.barLength ?? s.map?.barLength ?? DEFAULT_BAR_LENGTH;
}

/** The first beat of the bar holding `beat` (negative beats: bar 0). */
export function barOf(s: LedgerState, beat: number): number {
  const b = Math.max(0, beat);
  return b - (b % barLengthOf(s));
}

/** The beat at time `t` on the tempo map, else `followed` (-1 when neither is known). */
export function beatAt(s: LedgerState, t: number, followed: number): number {
  const pos = s.map ? positionAt(s.map, t) : null;
  return pos ? pos.beatIndex : followed;
}

/** How many beats behind the beat it was stored at a claim may name (maxClaimDelayMs at the tempo of `t`). */
export function lateBeats(s: LedgerState, t: number): number {
  const bars = s.config.replayBars * barLengthOf(s);
  return s.map ? Math.max(bars, Math.ceil((s.config.maxClaimDelayMs * tempoAt(s.map, t)) / 60_000)) : bars;
}

/** True when the bar starting at `fromBeat` is reported (its report is stored). */
export function isReported(s: LedgerState, fromBeat: number): boolean {
  const w = s.windows.peek(fromBeat);
  return w?.reportedAt !== undefined || (s.reportedUpTo !== undefined && fromBeat <= s.reportedUpTo);
}

/**
 * Where a claim-stream message of the bar starting at `fromBeat` is counted: that bar's
 * window while it is not reported; else the first bar not reported yet, or nowhere
 * (undefined) when the last stored report's cut already covers `seq`.
 */
export function windowFor(s: LedgerState, fromBeat: number, seq: number, now: number): WindowAggregation | undefined {
  if (!isReported(s, fromBeat) || s.reportedUpTo === undefined) return s.windows.get(Math.max(0, fromBeat), now);
  if (s.reportedCut !== undefined && seq > 0 && seq <= s.reportedCut) return undefined;
  return s.windows.get(s.reportedUpTo + barLengthOf(s), now);
}

/** The first beat of the next bar whose report is due, or undefined when none is. */
export function nextDue(s: LedgerState): number | undefined {
  if (s.dueUpTo < 0 || s.reportedUpTo === undefined) return undefined;
  const next = s.reportedUpTo + barLengthOf(s);
  return next <= s.dueUpTo ? next : undefined;
}

/**
 * The claim-stream sequence every claim up to which must be handled before the report of bar
 * `fromBeat` is built: the stream's last sequence, the last stored report's cut, and the
 * highest sequence the bar's window counted (above a gap).
 */
export function catchUpTarget(s: LedgerState, fromBeat: number, streamLastSeq: number): number {
  return Math.max(streamLastSeq, s.reportedCut ?? 0, s.windows.peek(fromBeat)?.maxSeq ?? 0);
}
