/**
 * How a claim is counted (docs/spec.md §9 Reverb): the same stream message again is skipped by
 * its sequence; a claim is checked (ingest.ts) against the beat at which the stream stored it;
 * a refused one counts as an issue of the bar it was stored in and goes to the dead-letter
 * subject; an accepted one is added to its bar's window; one for a bar already reported is a
 * late claim of the first bar not reported yet, unless the last stored report already
 * accounts for its stream sequence (the report's claim cut: every message up to it was counted
 * by that report or an earlier one, whichever replica built them); the same claim from another
 * message is a replay.
 */
import { positionAt, tempoAt, timeOf, type Hlc, type TempoMap } from '@backbeat/core';
import type { Headers } from '@backbeat/transport';
import { HandledSeqs } from './handled-seqs.js';
import { checkClaim } from './ingest.js';
import type { ReverbMetrics } from './metrics.js';
import type { ResolvedReverbOptions } from './options.js';
import type { SignatureCheck, TrustStore } from './trust.js';
import type { IssueKind, WindowAggregation } from './window.js';
import type { WindowStore } from './window-store.js';

/**
 * Where a claim came from: a first delivery, a redelivery, or the claim stream re-read at
 * start (`history`: already handled by this replica before it stopped, so never sent to the
 * dead-letter subject again).
 */
export type ClaimSource = 'live' | 'redelivered' | 'history';

/** Outcome of {@link ClaimCounter.ingest} (and Reverb.ingest): counted, refused (the reason), or a message already counted. */
export type IngestOutcome = 'accepted' | IssueKind | 'duplicate';

/** What the counter needs of its replica: settings, the windows, and what it reads as it counts. */
export interface ClaimCounterOptions {
  readonly options: Pick<ResolvedReverbOptions, 'clock' | 'signatures' | 'maxClaimBytes' | 'replayBars' | 'maxClaimDelayMs'>;
  readonly metrics: Pick<ReverbMetrics, 'claims' | 'rejected'>;
  /** The replica's clock, advanced by every claim counted (docs/spec.md §6 Hybrid logical clock). */
  readonly hlc: Hlc;
  /** The replica's windows (it reports, seals and evicts them; the counter adds to them). */
  readonly windows: WindowStore;
  /** The trust store now (it is replaced on reload). */
  readonly trust: () => TrustStore | undefined;
  /** Beats per bar. */
  readonly barLength: () => number;
  /** The pulse's tempo map, once known. */
  readonly tempoMap: () => TempoMap | null;
  /** Current beat as followed (-1 before the first). */
  readonly currentBeat: () => number;
  /** from_beat of the last bar whose report is stored; undefined before the first. */
  readonly reportedUpTo: () => number | undefined;
  /**
   * The claim cut of that report: every claim-stream message up to this sequence is counted by
   * it or an earlier report (undefined when not known: a report stored without one).
   */
  readonly reportedCut: () => number | undefined;
  /** True once the start-up rebuild is done. */
  readonly recovered: () => boolean;
  /** When the last report found at start was stored. */
  readonly lastStoredReportAt: () => number | undefined;
  /** Sends a refused claim to the dead-letter subject with its reason. */
  readonly deadLetter: (data: Uint8Array, headers: Headers, reason: string, message: string) => void;
  /** Called with the window id of every accepted claim. */
  readonly onAccepted: (windowId: string) => void;
}

/** Checks and counts claims into their bars' windows. */
export class ClaimCounter {
  readonly #o: ClaimCounterOptions;
  /** Claim-stream sequences handled (counted, refused or skipped): a delivery of one is a duplicate. */
  readonly handled: HandledSeqs;

  constructor(options: ClaimCounterOptions) {
    this.#o = options;
    this.handled = new HandledSeqs(options.options.clock);
  }

  /** How many beats behind the beat it was stored at a claim may name (maxClaimDelayMs at the tempo of `t`). */
  #lateBeats(t: number): number {
    const map = this.#o.tempoMap();
    const bars = this.#o.options.replayBars * this.#o.barLength();
    return map ? Math.max(bars, Math.ceil((this.#o.options.maxClaimDelayMs * tempoAt(map, t)) / 60_000)) : bars;
  }

  /** The beat at time `t` on the tempo map, else the followed beat (-1 when neither is known). */
  #beatAt(t: number): number {
    const map = this.#o.tempoMap();
    const pos = map ? positionAt(map, t) : null;
    return pos ? pos.beatIndex : this.#o.currentBeat();
  }

  #isReported(fromBeat: number): boolean {
    const w = this.#o.windows.peek(fromBeat);
    const reportedUpTo = this.#o.reportedUpTo();
    return w?.reportedAt !== undefined || (reportedUpTo !== undefined && fromBeat <= reportedUpTo);
  }

  /**
   * Where a claim-stream message of the bar starting at `fromBeat` is counted: that bar's
   * window while it is not reported; else the first bar not reported yet, or nowhere
   * (undefined) when the last stored report's cut already covers `seq`.
   */
  #windowFor(fromBeat: number, seq: number): WindowAggregation | undefined {
    const reportedUpTo = this.#o.reportedUpTo();
    const now = this.#o.options.clock.now();
    if (!this.#isReported(fromBeat) || reportedUpTo === undefined) return this.#o.windows.get(Math.max(0, fromBeat), now);
    const cut = this.#o.reportedCut();
    if (cut !== undefined && seq > 0 && seq <= cut) return undefined;
    return this.#o.windows.get(reportedUpTo + this.#o.barLength(), now);
  }

  #barOf(beat: number): number {
    const b = Math.max(0, beat);
    return b - (b % this.#o.barLength());
  }

  /**
   * Checks and counts one claim stored at `storedAt` (stream sequence `seq`, 0 when it has
   * none), with its signature's check when a verify thread made it. A refused one goes to
   * the dead-letter subject with the reason (not for `history`). Never throws, but for what
   * an `onAccepted` listener throws.
   */
  ingest(data: Uint8Array, headers: Headers, storedAt: number, source: ClaimSource, seq: number, signature: SignatureCheck | undefined): IngestOutcome {
    if (seq > 0) {
      if (this.handled.has(seq)) return 'duplicate'; // the same stored message again
      this.handled.add(seq);
    }
    const { options, metrics, windows } = this.#o;
    const barLength = this.#o.barLength();
    const now = options.clock.now();
    const dlq = source !== 'history';
    const storedBeat = this.#beatAt(storedAt);
    const trust = this.#o.trust();
    const v = checkClaim(data, headers, {
      mode: options.signatures,
      trust,
      maxBytes: options.maxClaimBytes,
      currentBeat: storedBeat,
      replayBeats: options.replayBars * barLength,
      lateBeats: this.#lateBeats(storedAt),
      ...(signature ? { signature } : {}),
    });
    if (!v.accept) {
      // Counted in the bar it was stored in: a refused claim's own beat is not to be trusted.
      const w = this.#windowFor(this.#barOf(storedBeat), seq);
      if (w === undefined) return 'duplicate'; // a stored report counted it already
      w.issue(v.reason, now, seq);
      metrics.claims.inc({ outcome: 'rejected' });
      metrics.rejected.inc({ reason: v.reason });
      if (dlq) this.#o.deadLetter(data, headers, v.reason, v.message);
      return v.reason;
    }
    const c = v.claim;
    const fromBeat = c.beat_index - (c.beat_index % barLength);
    if (this.#isReported(fromBeat)) {
      // Re-read at start and stored before the last report, when that report names no cut: in time for its bar.
      const lastStoredReportAt = this.#o.lastStoredReportAt();
      const cutKnown = this.#o.reportedCut() !== undefined;
      if (!cutKnown && !this.#o.recovered() && lastStoredReportAt !== undefined && storedAt < lastStoredReportAt) return 'duplicate';
      const late = this.#windowFor(fromBeat, seq);
      if (late === undefined) return 'duplicate'; // counted by a stored report (in its bar or as late)
      late.issue('late_claims', now, seq);
      metrics.claims.inc({ outcome: 'late' });
      return 'late_claims';
    }
    // The x-window-id header is used when it agrees with beat_index (docs/spec.md §9 Reverb): then it is this id.
    const w = windows.get(fromBeat, now);
    const wid = w.windowId;
    const counted = w.seen(c.agent_id, c.hlc);
    if (counted !== undefined) {
      // A stored message seen again is caught by its sequence above; without one (seq 0), a
      // re-read claim counted without a sequence is the same message again.
      if (seq === 0 && counted === 0 && source !== 'live') return 'duplicate';
      // Another message repeating a counted claim: a replay (docs/spec.md §9 Reverb).
      w.issue('replayed', now, seq);
      metrics.claims.inc({ outcome: 'rejected' });
      metrics.rejected.inc({ reason: 'replayed' });
      if (dlq) this.#o.deadLetter(data, headers, 'replayed', `claim ${c.agent_id} ${c.hlc} was already counted`);
      return 'replayed';
    }
    // docs/spec.md §6 Hybrid logical clock: receiving advances the HLC. A clock behind ours teaches it nothing: skip the merge.
    const { hlc } = this.#o;
    if (parseInt(c.hlc.slice(0, c.hlc.indexOf(':')), 16) >= hlc.peek().physical && !hlc.update(c.hlc).adopted) w.issue('hlc_ahead', now);
    const map = this.#o.tempoMap();
    const onTime = map ? storedAt < timeOf(map, c.beat_index + 1, 0) : false;
    w.add(c, onTime, now, seq);
    if (v.unsignedAccepted) w.issue('unsigned_accepted', now);
    metrics.claims.inc({ outcome: 'accepted' });
    this.#o.onAccepted(wid);
    return 'accepted';
  }
}
