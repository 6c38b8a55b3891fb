/**
 * The bar ledger (docs/spec.md §9 Reverb): `step(state, event, now) -> { state, effects }`.
 * Claims in (with stream sequence, agent, HLC), which bars are due, reports out (exactly once,
 * in bar order), late claims, duplicates and replays, recovery after a restart. No I/O, timers
 * or clock reads: the shell (reverb.ts) turns deliveries, reads, downbeats and store answers
 * into events and carries out the effects. While a report is being stored, claims wait in the
 * ledger (`held`) and are counted once the store has answered, against the report stored.
 */
import { countClaim } from './claims.js';
import type { ClaimEvent, LedgerEffect, LedgerEvent, StepResult } from './events.js';
import { buildReport, reportFailed, reportFoundStored, reportStored } from './reports.js';
import { barLengthOf, type LedgerState } from './state.js';

/** Once recovered, the first bar due is the first this replica answers for; from then on, every bar in order. */
function answerFrom(s: LedgerState): void {
  if (s.recovered && s.dueUpTo >= 0) s.reportedUpTo ??= s.dueUpTo - barLengthOf(s);
}

function claim(s: LedgerState, e: ClaimEvent, now: number, fx: LedgerEffect[]): void {
  fx.push({ type: 'outcome', id: e.id, outcome: countClaim(s, e, now, fx) });
}

/** Counts the claims held during a store, in order (none can be held again: no report is in flight). */
function release(s: LedgerState, now: number, fx: LedgerEffect[]): void {
  if (s.held.length === 0 || s.inFlight) return;
  const queue = s.held.splice(0);
  for (const e of queue) claim(s, e, now, fx);
}

/** Applies one event at time `now` (the replica's clock.now()); returns the state and what to do. */
export function step(s: LedgerState, e: LedgerEvent, now: number): StepResult<LedgerState> {
  const fx: LedgerEffect[] = [];
  switch (e.type) {
    case 'claim':
      if (s.inFlight) s.held.push(e);
      else claim(s, e, now, fx);
      break;
    case 'read-through':
      s.handled.advanceTo(e.seq);
      break;
    case 'downbeat': {
      const bar = barLengthOf(s);
      s.downbeats.set(e.beat, e.at);
      for (const k of s.downbeats.keys()) if (k < e.beat - 4 * bar) s.downbeats.delete(k);
      const ended = e.beat - bar;
      if (ended >= 0 && ended > s.dueUpTo) s.dueUpTo = ended;
      answerFrom(s);
      break;
    }
    case 'tempo':
      s.map = e.map;
      break;
    case 'trust':
      s.trust = e.trust;
      break;
    case 'last-report':
      s.lastStoredReportAt = e.storedAt;
      s.reportedCut = e.cut;
      s.reportedUpTo = e.fromBeat;
      s.dueUpTo = e.fromBeat;
      break;
    case 'rebuild':
      s.reportedUpTo = e.firstBar - barLengthOf(s);
      s.dueUpTo = Math.max(s.dueUpTo, e.currentBar - barLengthOf(s));
      break;
    case 'recovered':
      s.recovered = true;
      answerFrom(s);
      break;
    case 'build':
      if (!s.inFlight) buildReport(s, e.fromBeat, e.wall, e.hlc, now, fx);
      break;
    case 'stored':
      reportStored(s, now, fx);
      break;
    case 'found-stored':
      reportFoundStored(s, e, now, fx);
      break;
    case 'store-failed':
      reportFailed(s, e.why, fx);
      break;
    case 'sweep':
      s.windows.evict(now);
      break;
  }
  release(s, now, fx);
  return { state: s, effects: fx };
}
