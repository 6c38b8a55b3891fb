/**
 * How the ledger reports a bar (docs/spec.md §9 Reverb): builds it with its claim cut (every
 * message up to the cut handled, none above it in the window), hands it out to be stored, and
 * seals it once the store answers: this replica's copy stored, or another copy found stored
 * first, whose cut it adopts (what it counted in the bar past that cut goes to the next bar as
 * late, or as the same refusal). It says whether the stored copy is this replica's own (whose
 * builder it names). Pure: pushes the effects.
 */
import type { BarReport } from '@backbeat/contracts';
import type { LedgerEffect } from './events.js';
import { reportTiming } from './report-timing.js';
import { barLengthOf, type LedgerState } from './state.js';
import type { WindowAggregation } from './window.js';

/** Builds the report of bar `fromBeat` and hands it out to be stored, unless it must wait. */
export function buildReport(
  s: LedgerState,
  fromBeat: number,
  wall: number,
  hlc: string,
  now: number,
  fx: LedgerEffect[],
): void {
  const w = s.windows.get(fromBeat, now);
  if (w.reportedAt !== undefined) {
    s.reportedUpTo = Math.max(s.reportedUpTo ?? fromBeat, fromBeat);
    fx.push({ type: 'report-known', fromBeat });
    return;
  }
  // The claim cut: every message up to it is handled, none above it is in this window.
  const cut = Math.max(s.handled.upTo ?? 0, s.reportedCut ?? 0);
  if (w.maxSeq > cut) {
    fx.push({ type: 'report-waits', fromBeat, cut, maxSeq: w.maxSeq });
    return;
  }
  const barLength = barLengthOf(s);
  const opening = s.downbeats.get(fromBeat);
  const closing = s.downbeats.get(fromBeat + barLength);
  const { due, tempoDriftMs, builtLate } = reportTiming({ map: s.map, fromBeat, barLength, opening, closing, now });
  const rollupMs = Math.max(0, now - due);
  const report = w.report(s.config.clusterId, { tempoDriftMs, rollupMs, barLength, generatedAt: wall, hlc, builtLate });
  s.inFlight = { fromBeat, report, cut, due };
  fx.push({ type: 'store-report', fromBeat, report, cut });
}

/** Seals the bar in flight with `published` as its record. */
function seal(
  s: LedgerState,
  w: WindowAggregation,
  published: BarReport,
  o: { builtHere: boolean; ownCopy: boolean; moved: number },
  now: number,
  fx: LedgerEffect[],
): void {
  const f = s.inFlight!;
  w.seal(published, now);
  s.reportedUpTo = f.fromBeat;
  s.inFlight = undefined;
  fx.push({
    type: 'report-done',
    fromBeat: f.fromBeat,
    report: published,
    due: f.due,
    cut: s.reportedCut ?? f.cut,
    ...o,
  });
  s.windows.evict(now);
}

/** The report in flight was stored: it is the bar's record, and this replica's copy. */
export function reportStored(s: LedgerState, now: number, fx: LedgerEffect[]): void {
  const f = s.inFlight;
  if (!f) return;
  s.reportedCut = f.cut;
  seal(s, s.windows.get(f.fromBeat, now), f.report, { builtHere: true, ownCopy: true, moved: 0 }, now, fx);
}

/**
 * A copy of the bar's report was stored first (read back: report, cut, builder). That copy is
 * the bar's report; what this replica counted in the bar above its cut goes to the next bar.
 * When the copy names this replica as its builder, it is this replica's own earlier attempt
 * whose answer was lost: still this replica's copy.
 */
export function reportFoundStored(
  s: LedgerState,
  found: { report: BarReport | undefined; cut: number | undefined; storedBy: string | undefined },
  now: number,
  fx: LedgerEffect[],
): void {
  const f = s.inFlight;
  if (!f) return;
  const w = s.windows.get(f.fromBeat, now);
  const { report, cut } = found;
  const mine = found.storedBy === s.config.nodeId;
  if (!report || report.window_id !== w.windowId || cut === undefined) {
    // A copy without a cut (an older replica) or not this bar's: counted as built here.
    const fields = { window: w.windowId, found: report?.window_id ?? null };
    fx.push({
      type: 'log',
      level: 'warn',
      msg: 'the stored copy of the bar report names no claim cut; counting as this replica built it',
      fields,
    });
    if (report?.window_id !== w.windowId) {
      s.inFlight = undefined;
      fx.push({ type: 'report-failed', fromBeat: f.fromBeat, why: 'not-this-bar' });
      return;
    }
    s.reportedCut = f.cut;
    seal(s, w, report, { builtHere: false, ownCopy: mine, moved: 0 }, now, fx);
    return;
  }
  const moved = w.countedAfter(cut);
  if (moved.length > 0) {
    const next = s.windows.get(f.fromBeat + barLengthOf(s), now);
    for (const x of moved) next.issue(x.kind === 'claim' ? 'late_claims' : x.kind, now, x.seq);
    const fields = { window: w.windowId, stored_cut: cut, own_cut: f.cut, moved: moved.length };
    fx.push({
      type: 'log',
      level: 'info',
      msg: "another replica's report of this bar was stored first; what it does not count goes to the next bar",
      fields,
    });
  }
  s.reportedCut = cut;
  seal(s, w, report, { builtHere: false, ownCopy: mine, moved: moved.length }, now, fx);
}

/** The report in flight was not stored, or the stored copy could not be read: the bar stays open. */
export function reportFailed(s: LedgerState, why: 'store' | 'read', fx: LedgerEffect[]): void {
  const f = s.inFlight;
  if (!f) return;
  s.inFlight = undefined;
  fx.push({ type: 'report-failed', fromBeat: f.fromBeat, why });
}
