/**
 * How the ledger counts one claim-stream message (docs/spec.md §9 Reverb): the same stream
 * message again is skipped by its sequence; a claim is checked (check-claim.ts) against the
 * beat at which the stream stored it; a refused one counts as an issue of the bar it was
 * stored in and goes to the dead-letter subject; an accepted one is added to its bar's window;
 * one for a bar already reported is a late claim of the first bar not reported yet, unless the
 * last stored report already accounts for its stream sequence (the report's claim cut); the
 * same claim from another message is a replay. Pure: returns the outcome, pushes the effects.
 */
import { timeOf } from '@backbeat/core';
import { checkClaim } from './check-claim.js';
import type { ClaimEvent, IngestOutcome, LedgerEffect } from './events.js';
import { barLengthOf, barOf, beatAt, isReported, lateBeats, windowFor, type LedgerState } from './state.js';

/** An HLC further ahead of the wall clock than this is not adopted (docs/spec.md §6 Hybrid logical clock). */
export const MAX_HLC_AHEAD_MS = 5000;

/** The physical part (ms) of a wire HLC. */
function physicalOf(hlc: string): number {
  return parseInt(hlc.slice(0, hlc.indexOf(':')), 16);
}

/** Counts one claim; `fx` receives the effects (dead letter, metrics, listeners, HLC merge). */
export function countClaim(s: LedgerState, e: ClaimEvent, now: number, fx: LedgerEffect[]): IngestOutcome {
  const { seq, source } = e;
  if (seq > 0) {
    if (s.handled.has(seq)) return 'duplicate'; // the same stored message again
    s.handled.add(seq);
  }
  const { config } = s;
  const barLength = barLengthOf(s);
  const dlq = source !== 'history';
  const storedBeat = beatAt(s, e.storedAt, e.followedBeat);
  const v = checkClaim(e.data, e.headers, {
    mode: config.signatures,
    trust: s.trust,
    maxBytes: config.maxClaimBytes,
    currentBeat: storedBeat,
    replayBeats: config.replayBars * barLength,
    lateBeats: lateBeats(s, e.storedAt),
    ...(e.signature ? { signature: e.signature } : {}),
  });
  if (!v.accept) {
    // Counted in the bar it was stored in: a refused claim's own beat is not to be trusted.
    const w = windowFor(s, barOf(s, storedBeat), seq, now);
    if (w === undefined) return 'duplicate'; // a stored report counted it already
    w.issue(v.reason, now, seq);
    fx.push({ type: 'claim-counted', outcome: 'rejected', reason: v.reason });
    if (dlq) fx.push({ type: 'dead-letter', data: e.data, headers: e.headers, reason: v.reason, message: v.message });
    return v.reason;
  }
  const c = v.claim;
  const fromBeat = c.beat_index - (c.beat_index % barLength);
  if (isReported(s, fromBeat)) {
    // Re-read at start and stored before the last report, when that report names no cut: in time for its bar.
    const cutKnown = s.reportedCut !== undefined;
    const before = s.lastStoredReportAt !== undefined && e.storedAt < s.lastStoredReportAt;
    if (!cutKnown && !s.recovered && before) return 'duplicate';
    const late = windowFor(s, fromBeat, seq, now);
    if (late === undefined) return 'duplicate'; // counted by a stored report (in its bar or as late)
    late.issue('late_claims', now, seq);
    fx.push({ type: 'claim-counted', outcome: 'late' });
    return 'late_claims';
  }
  // The x-window-id header is used when it agrees with beat_index (docs/spec.md §9 Reverb): then it is this id.
  const w = s.windows.get(fromBeat, now);
  const counted = w.seen(c.agent_id, c.hlc);
  if (counted !== undefined) {
    // A stored message seen again is caught by its sequence above; without one (seq 0), a
    // re-read claim counted without a sequence is the same message again.
    if (seq === 0 && counted === 0 && source !== 'live') return 'duplicate';
    // Another message repeating a counted claim: a replay (docs/spec.md §9 Reverb).
    w.issue('replayed', now, seq);
    fx.push({ type: 'claim-counted', outcome: 'rejected', reason: 'replayed' });
    const message = `claim ${c.agent_id} ${c.hlc} was already counted`;
    if (dlq) fx.push({ type: 'dead-letter', data: e.data, headers: e.headers, reason: 'replayed', message });
    return 'replayed';
  }
  // docs/spec.md §6 Hybrid logical clock: receiving advances the HLC; a clock behind ours teaches it nothing.
  const physical = physicalOf(c.hlc);
  if (physical >= s.hlcPhysical) {
    if (physical > s.hlcPhysical && physical - e.wall > MAX_HLC_AHEAD_MS) w.issue('hlc_ahead', now);
    else {
      s.hlcPhysical = physical;
      fx.push({ type: 'merge-hlc', hlc: c.hlc });
    }
  }
  const onTime = s.map ? e.storedAt < timeOf(s.map, c.beat_index + 1, 0) : false;
  w.add(c, onTime, now, seq);
  if (v.unsignedAccepted) w.issue('unsigned_accepted', now);
  fx.push({ type: 'claim-counted', outcome: 'accepted' });
  fx.push({ type: 'claim-accepted', windowId: w.windowId });
  return 'accepted';
}
