/**
 * The follower as a pure machine (BACKBEAT-REQ-040, REQ-003; docs/spec.md §8 Degradation and grid
 * timing): `step(state, event, now)` says which slot fires when, and returns what the shell must do
 * (fire a slot, arm a timer, count, report). No I/O, timers or clock reads: `now` is given.
 * - `frames` timing: a leader frame (already through the gate's checks, docs/spec.md §7 Election,
 *   terms and fencing) fires its slot on receipt; when none arrived by the slot's start + the
 *   jitter tolerance (at most half the phase), the slot fires from the tempo map (source `local`)
 *   and the client is degraded until frames return.
 * - `grid` timing (docs/decisions/0004-sdk-beat-delivery.md): every slot fires from the tempo map
 *   at its instant (source `grid`); the leader's frame confirms it (confirmation lag is a metric).
 *   A frame for a slot not fired yet fires it (source `leader`). Losing the leader changes only
 *   health. Beyond `maxClockOffsetMs` between this clock and the leader's it falls back to frames
 *   timing and says so; it comes back within half the bound.
 * - Catch-up is bounded: after a stall, a gap or a forward jump no stale slot fires. Only the slot
 *   that holds `now` can fire; the ones skipped are counted (`skipped`).
 * The bookkeeping of a fired slot (metrics, the HLC merge, the offset check, the next timer) waits
 * for a `settle` event, so that every client of a batch is called before any does its own.
 */
import {
  compareSlots,
  nextSlot,
  PHASES,
  positionAt,
  slotAtOrAfter,
  slotsBetween,
  type BeatPosition,
  type TempoMap,
} from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatSource } from './beat-types.js';
import type { DropReason } from './frame-gate.js';
import {
  dueAt,
  type FollowerEffect,
  type FollowerEvent,
  type FollowerState,
  type Step,
} from './follower-state.js';

/** Drops that are part of normal operation (a failover, a late frame): counted, not reported. */
const QUIET_DROPS: ReadonlySet<DropReason> = new Set<DropReason>(['duplicate', 'backwards', 'stale', 'old_term']);
/** Shortest interval between two health reports of drops of one reason, ms. */
const REPORT_EVERY_MS = 1000;
/** Fired slots remembered for confirmation by late leader frames. */
const RECENT = 8;
/** Leader beat arrivals kept for the measured tempo. */
const ARRIVALS = 11;
/** A positive offset estimate includes the network delay: it counts against the bound divided by this. */
const LEAD_FACTOR = 5;
/** Frames the clock-offset estimate needs before timing may change. */
const OFFSET_MIN_SAMPLES = 4;

type Draft = { -readonly [K in keyof FollowerState]: FollowerState[K] };

/** A copy to change: every field written out, so every state has one shape (a spread is slower). */
function draftOf(s: FollowerState): Draft {
  return {
    config: s.config,
    running: s.running,
    map: s.map,
    timing: s.timing,
    fallback: s.fallback,
    last: s.last,
    recent: s.recent,
    confirmed: s.confirmed,
    degraded: s.degraded,
    timer: s.timer,
    lastBeatTime: s.lastBeatTime,
    beatArrivals: s.beatArrivals,
    unsettled: s.unsettled,
    frameHlc: s.frameHlc,
    frameOffset: s.frameOffset,
    reported: s.reported,
  };
}

// The effects that carry nothing: one frozen object each.
const DISARM: FollowerEffect = Object.freeze({ kind: 'disarm' });
const DEFER: FollowerEffect = Object.freeze({ kind: 'defer' });
const RECEIVED: FollowerEffect = Object.freeze({ kind: 'received' });
const SYNTHESIZED: FollowerEffect = Object.freeze({ kind: 'synthesized' });
const SETTLED: FollowerEffect = Object.freeze({ kind: 'settled' });
const SETTLE_AFTER_BATCH: FollowerEffect = Object.freeze({ kind: 'settle-after-batch' });

/**
 * Grid timing, shortly before the armed instant: the slot whose frame may be built now (the
 * armed one), or null. A question, not an event: it changes nothing.
 */
export function slotToPrepare(s: FollowerState): { readonly map: TempoMap; readonly pos: BeatPosition } | null {
  const map = s.map;
  if (!s.running || !map || s.timing !== 'grid' || !s.last) return null;
  const pos = (s.config.nextSlot ?? nextSlot)(map, s.last);
  return pos.phaseStart === s.timer ? { map, pos } : null;
}

/** The state after `event` at `now`, and what the shell must do. The input state is not changed. */
export function step(state: FollowerState, event: FollowerEvent, now: number): Step {
  const d = draftOf(state);
  const fx: FollowerEffect[] = [];
  switch (event.kind) {
    case 'start':
      d.running = true;
      arm(d, now, fx);
      break;
    case 'stop':
      d.running = false;
      if (d.timer !== null) fx.push(DISARM);
      d.timer = null;
      break;
    case 'map':
      d.map = event.map;
      if (d.running) arm(d, now, fx);
      break;
    case 'frame':
      accept(d, event, now, fx);
      break;
    case 'drop':
      drop(d, event, now, fx);
      break;
    case 'settle':
      settle(d, now, fx);
      break;
    case 'wake':
      if (d.timing === 'frames' && d.config.canDefer) {
        d.timer = 'deferred';
        fx.push(DEFER);
      } else onDue(d, now, fx);
      break;
    case 'due':
      onDue(d, now, fx);
      break;
  }
  return { state: d, effects: fx };
}

function accept(d: Draft, e: Extract<FollowerEvent, { kind: 'frame' }>, now: number, fx: FollowerEffect[]): void {
  if (!d.running) return;
  if (d.unsettled) settle(d, now, fx); // a grid slot's bookkeeping first: its frame may confirm it
  fx.push(RECEIVED);
  d.frameHlc = e.frame.hlc;
  d.frameOffset = e.offset;
  setDegraded(d, false, fx);
  const last = d.last;
  if (!last || compareSlots(e.pos, last) > 0) return fire(d, e.pos, e.frame, 'leader', e.receivedAt, now, fx);
  let i = d.recent.length - 1;
  while (i >= 0 && compareSlots(d.recent[i]!.pos, e.pos) !== 0) i--;
  const mine = i >= 0 ? d.recent[i]! : undefined;
  const confirmed = mine !== undefined && (d.confirmed & (1 << i)) !== 0;
  if (mine && !confirmed && mine.source === 'grid') fx.push({ kind: 'confirmed', lagMs: e.receivedAt - mine.receivedAt });
  else fx.push({ kind: 'dropped', reason: compareSlots(e.pos, last) === 0 ? 'duplicate' : 'backwards' });
  if (mine) d.confirmed |= 1 << i;
}

function drop(d: Draft, e: Extract<FollowerEvent, { kind: 'drop' }>, now: number, fx: FollowerEffect[]): void {
  if (!d.running) return;
  fx.push(RECEIVED, { kind: 'dropped', reason: e.reason });
  if (e.detail === '' || QUIET_DROPS.has(e.reason)) return;
  if (now - (d.reported[e.reason] ?? -Infinity) < REPORT_EVERY_MS) return; // a flood is counted, reported once a second
  d.reported = { ...d.reported, [e.reason]: now };
  fx.push({ kind: 'error', message: `frame dropped (${e.reason}): ${e.detail}`, log: e.log });
}

/** The bookkeeping after a batch of callbacks; idempotent. */
function settle(d: Draft, now: number, fx: FollowerEffect[]): void {
  const u = d.unsettled;
  if (u) {
    d.unsettled = undefined;
    if (u.prev) {
      const skipped = slotsBetween(d.map ?? { phases: PHASES }, u.prev, u.pos);
      if (skipped > 0) fx.push({ kind: 'skipped', slots: skipped });
    }
    const full = d.recent.length >= RECENT;
    const recent = d.recent.slice(full ? 1 : 0);
    recent.push(u);
    d.recent = recent;
    const mask = full ? d.confirmed >>> 1 : d.confirmed;
    d.confirmed = u.source === 'leader' ? mask | (1 << (recent.length - 1)) : mask;
    if (u.source !== 'leader') fx.push(SYNTHESIZED);
    if (u.pos.phaseIndex === 0 && u.source === 'leader') {
      const a = d.beatArrivals;
      const arrivals = a.slice(a.length >= ARRIVALS ? 1 : 0);
      arrivals.push(u.receivedAt);
      d.beatArrivals = arrivals;
    }
    fx.push(SETTLED);
  }
  const hlc = d.frameHlc;
  if (hlc !== undefined) {
    d.frameHlc = undefined;
    fx.push({ kind: 'merge-hlc', hlc });
    checkOffset(d, now, fx);
  }
  if (d.running) arm(d, now, fx);
}

/** Grid timing falls back to frames beyond the offset bound and comes back within half of it. */
function checkOffset(d: Draft, now: number, fx: FollowerEffect[]): void {
  const est = d.frameOffset;
  d.frameOffset = undefined;
  if (d.config.timing !== 'grid' || !est || est.samples < OFFSET_MIN_SAMPLES || est.offsetMs === null) return;
  // A negative estimate is a proven lag; a positive one includes the network delay (a loaded
  // host delays frames by tens of ms), so only a lead beyond LEAD_FACTOR x the bound counts.
  const max = d.config.maxClockOffsetMs;
  const off = est.offsetMs < 0 ? -est.offsetMs : est.offsetMs / LEAD_FACTOR;
  if (d.timing === 'grid' && off > max) {
    d.timing = 'frames';
    d.fallback =
      est.offsetMs < 0
        ? `this clock is at least ${(-est.offsetMs).toFixed(1)} ms behind the leader's (bound ${max} ms): ` +
          'grid timing fell back to frames'
        : `frames arrive at least ${est.offsetMs.toFixed(1)} ms after their slot (this clock ahead, or the network ` +
          `slow; bound ${LEAD_FACTOR} x ${max} ms): grid timing fell back to frames`;
    fx.push({ kind: 'error', message: d.fallback, log: true });
    arm(d, now, fx);
  } else if (d.timing === 'frames' && off <= max / 2) {
    d.timing = 'grid';
    d.fallback = null;
    arm(d, now, fx);
  }
}

function setDegraded(d: Draft, on: boolean, fx: FollowerEffect[]): void {
  if (d.degraded === on) return;
  d.degraded = on;
  fx.push({ kind: 'degraded', on });
}

/** The slot after `last` (the config's nextSlot: maybe a memo shared by the clients of a gate). */
function nextOf(d: Draft, map: TempoMap, last: BeatPosition): BeatPosition {
  return (d.config.nextSlot ?? nextSlot)(map, last);
}

/** Waits for the next slot: its start (grid), or its start + the late delay (frames). */
function arm(d: Draft, now: number, fx: FollowerEffect[]): void {
  const map = d.map;
  if (!d.running || !map) {
    if (d.timer !== null) fx.push(DISARM);
    d.timer = null;
    return;
  }
  const due = dueAt(d, d.last ? nextOf(d, map, d.last) : slotAtOrAfter(map, now));
  if (d.timer === due) return; // a confirmation changes nothing: keep the timer
  d.timer = due;
  fx.push({ kind: 'arm', at: due });
}

/** Fires the slot that holds `now`, if it is due and not fired yet; never a stale one. */
function onDue(d: Draft, now: number, fx: FollowerEffect[]): void {
  d.timer = null;
  const map = d.map;
  if (!d.running || !map) return;
  // The slot armed for usually holds now: no search of the map.
  const n = d.last ? nextOf(d, map, d.last) : undefined;
  const cur = n && n.phaseStart <= now && now < n.phaseEnd ? n : positionAt(map, now);
  if (!cur || (d.last && compareSlots(cur, d.last) <= 0)) return arm(d, now, fx);
  const due = dueAt(d, cur);
  if (now < due) {
    d.timer = due;
    fx.push({ kind: 'arm', at: due });
    return;
  }
  const grid = d.timing === 'grid';
  if (!grid) setDegraded(d, true, fx);
  else {
    const n = d.recent.length;
    if (n > 0 && (d.confirmed & (1 << (n - 1))) === 0) setDegraded(d, true, fx);
  }
  fire(d, cur, null, grid ? 'grid' : 'local', now, now, fx);
  fx.push(SETTLE_AFTER_BATCH);
}

/** Fires a slot; its bookkeeping waits for `settle`. */
function fire(
  d: Draft,
  pos: BeatPosition,
  frame: BeatFrame | null,
  source: BeatSource,
  receivedAt: number,
  now: number,
  fx: FollowerEffect[],
): void {
  if (d.unsettled) settle(d, now, fx); // never two slots' bookkeeping at once
  const prev = d.last;
  d.last = pos;
  if (pos.phaseIndex === 0) d.lastBeatTime = receivedAt;
  fx.push({ kind: 'fire', pos, source, receivedAt, frame, map: d.map });
  d.unsettled = { pos, prev, source, receivedAt };
}
