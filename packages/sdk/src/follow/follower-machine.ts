/**
 * The follower as a pure machine (BACKBEAT-REQ-040, REQ-003; docs/spec.md §8 Degradation and grid
 * timing): `step(state, event, now, effects)` says which slot fires when, and appends what the shell
 * must do (fire a slot, arm a timer, count, report) to `effects`. No I/O, timers or clock reads:
 * `now` is given. The state is the shell's and is updated in place, the effects buffer reused: a
 * slot allocates nothing here (like the reverb's bar ledger, which updates its windows in place).
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
import type { BeatSource, DropReason } from './beat-types.js';
import type { FollowerEffects } from './follower-effects.js';
import { dueAt, type FiredSlot, type FollowerEvent, type FollowerState } from './follower-state.js';

/** slotsBetween's map before any map (the phases only). */
const NO_MAP = { phases: PHASES };
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

type Fx = FollowerEffects;

/**
 * Grid timing, shortly before the armed instant: the slot of `s.map` whose frame may be built now
 * (the armed one), or null. A question, not an event: it changes nothing.
 */
export function slotToPrepare(s: FollowerState): BeatPosition | null {
  const map = s.map;
  if (!s.running || !map || s.timing !== 'grid' || !s.last) return null;
  const pos = (s.config.nextSlot ?? nextSlot)(map, s.last);
  return pos.phaseStart === s.timer ? pos : null;
}

/**
 * Applies `event` at `now` to `d` (in place) and appends what the shell must do to `fx`. The same
 * state and events give the same state and effects: nothing else is read.
 */
export function step(d: FollowerState, event: FollowerEvent, now: number, fx: Fx): void {
  switch (event.kind) {
    case 'start':
      d.running = true;
      arm(d, now, fx);
      break;
    case 'stop':
      d.running = false;
      if (d.timer !== null) fx.push('disarm');
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
        fx.push('defer');
      } else onDue(d, now, fx);
      break;
    case 'due':
      onDue(d, now, fx);
      break;
  }
}

function accept(d: FollowerState, e: Extract<FollowerEvent, { kind: 'frame' }>, now: number, fx: Fx): void {
  if (!d.running) return;
  if (d.unsettled) settle(d, now, fx); // a grid slot's bookkeeping first: its frame may confirm it
  fx.push('received');
  d.frameHlc = e.frame.hlc;
  d.frameOffset = e.offset;
  setDegraded(d, false, fx);
  const last = d.last;
  if (!last || compareSlots(e.pos, last) > 0) return fire(d, e.pos, e.frame, 'leader', e.receivedAt, now, fx);
  let i = d.recent.length - 1;
  while (i >= 0 && compareSlots(d.recent[i]!.pos, e.pos) !== 0) i--;
  const mine = i >= 0 ? d.recent[i]! : undefined;
  const confirmed = mine !== undefined && (d.confirmed & (1 << i)) !== 0;
  if (mine && !confirmed && mine.source === 'grid') fx.push('confirmed').lagMs = e.receivedAt - mine.receivedAt;
  else fx.push('dropped').reason = compareSlots(e.pos, last) === 0 ? 'duplicate' : 'backwards';
  if (mine) d.confirmed |= 1 << i;
}

function drop(d: FollowerState, e: Extract<FollowerEvent, { kind: 'drop' }>, now: number, fx: Fx): void {
  if (!d.running) return;
  fx.push('received');
  fx.push('dropped').reason = e.reason;
  if (e.detail === '' || QUIET_DROPS.has(e.reason)) return;
  if (now - (d.reported[e.reason] ?? -Infinity) < REPORT_EVERY_MS) return; // a flood is counted, reported once a second
  d.reported[e.reason] = now;
  error(fx, `frame dropped (${e.reason}): ${e.detail}`, e.log);
}

/** The bookkeeping after a batch of callbacks; idempotent. */
function settle(d: FollowerState, now: number, fx: Fx): void {
  if (d.unsettled) {
    d.unsettled = false;
    const u = d.pending;
    if (u.prev) {
      const skipped = slotsBetween(d.map ?? NO_MAP, u.prev, u.pos);
      if (skipped > 0) fx.push('skipped').slots = skipped;
    }
    remember(d, u);
    if (u.source !== 'leader') fx.push('synthesized');
    if (u.pos.phaseIndex === 0 && u.source === 'leader') {
      const a = d.beatArrivals;
      if (a.length >= ARRIVALS) a.shift();
      a.push(u.receivedAt);
    }
    fx.push('settled');
  }
  const hlc = d.frameHlc;
  if (hlc !== undefined) {
    d.frameHlc = undefined;
    fx.push('merge-hlc').hlc = hlc;
    checkOffset(d, now, fx);
  }
  if (d.running) arm(d, now, fx);
}

/** Keeps a copy of `u` among the recent slots, the oldest record reused once there are RECENT. */
function remember(d: FollowerState, u: FiredSlot): void {
  const recent = d.recent;
  const full = recent.length >= RECENT;
  const r = full ? recent.shift()! : { pos: u.pos, prev: undefined, source: u.source, receivedAt: 0 };
  r.pos = u.pos;
  r.prev = u.prev;
  r.source = u.source;
  r.receivedAt = u.receivedAt;
  recent.push(r);
  const mask = full ? d.confirmed >>> 1 : d.confirmed;
  d.confirmed = u.source === 'leader' ? mask | (1 << (recent.length - 1)) : mask;
}

function error(fx: Fx, message: string, log: boolean): void {
  const r = fx.push('error');
  r.message = message;
  r.log = log;
}

/** Grid timing falls back to frames beyond the offset bound and comes back within half of it. */
function checkOffset(d: FollowerState, now: number, fx: Fx): void {
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
    error(fx, d.fallback, true);
    arm(d, now, fx);
  } else if (d.timing === 'frames' && off <= max / 2) {
    d.timing = 'grid';
    d.fallback = null;
    arm(d, now, fx);
  }
}

function setDegraded(d: FollowerState, on: boolean, fx: Fx): void {
  if (d.degraded === on) return;
  d.degraded = on;
  fx.push('degraded').on = on;
}

/** The slot after `last` (the config's nextSlot: maybe a memo shared by the clients of a gate). */
function nextOf(d: FollowerState, map: TempoMap, last: BeatPosition): BeatPosition {
  return (d.config.nextSlot ?? nextSlot)(map, last);
}

/** Waits for the next slot: its start (grid), or its start + the late delay (frames). */
function arm(d: FollowerState, now: number, fx: Fx): void {
  const map = d.map;
  if (!d.running || !map) {
    if (d.timer !== null) fx.push('disarm');
    d.timer = null;
    return;
  }
  const due = dueAt(d, d.last ? nextOf(d, map, d.last) : slotAtOrAfter(map, now));
  if (d.timer === due) return; // a confirmation changes nothing: keep the timer
  d.timer = due;
  fx.push('arm').at = due;
}

/** Fires the slot that holds `now`, if it is due and not fired yet; never a stale one. */
function onDue(d: FollowerState, now: number, fx: Fx): void {
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
    fx.push('arm').at = due;
    return;
  }
  const grid = d.timing === 'grid';
  if (!grid) setDegraded(d, true, fx);
  else {
    const n = d.recent.length;
    if (n > 0 && (d.confirmed & (1 << (n - 1))) === 0) setDegraded(d, true, fx);
  }
  fire(d, cur, null, grid ? 'grid' : 'local', now, now, fx);
  fx.push('settle-after-batch');
}

/** Fires a slot; its bookkeeping waits for `settle`. */
function fire(
  d: FollowerState,
  pos: BeatPosition,
  frame: BeatFrame | null,
  source: BeatSource,
  receivedAt: number,
  now: number,
  fx: Fx,
): void {
  if (d.unsettled) settle(d, now, fx); // never two slots' bookkeeping at once
  const prev = d.last;
  d.last = pos;
  if (pos.phaseIndex === 0) d.lastBeatTime = receivedAt;
  const r = fx.push('fire');
  r.pos = pos;
  r.source = source;
  r.receivedAt = receivedAt;
  r.frame = frame;
  r.map = d.map;
  const u = d.pending;
  u.pos = pos;
  u.prev = prev;
  u.source = source;
  u.receivedAt = receivedAt;
  d.unsettled = true;
}
