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
import type { BeatSource, Timing } from './beat-types.js';
import type { DropReason } from './frame-gate.js';

/** What does not change while a follower runs. */
export interface FollowerConfig {
  /** How late a leader frame may be before the slot fires locally (frames timing), ms. */
  readonly toleranceMs: number;
  /** The timing asked for. */
  readonly timing: Timing;
  /** Grid timing falls back to frames beyond this clock offset from the leader, ms. */
  readonly maxClockOffsetMs: number;
  /** The shell can let the event loop read its sockets once before a late timer counts (clock.defer). */
  readonly canDefer: boolean;
}

/** A fired slot, remembered for confirmation by a late leader frame. */
interface Fired {
  readonly pos: BeatPosition;
  readonly source: BeatSource;
  readonly firedAt: number;
  readonly confirmed: boolean;
}

/** A fired slot whose bookkeeping waits for `settle`. */
interface Unsettled {
  readonly pos: BeatPosition;
  readonly prev: BeatPosition | undefined;
  readonly source: BeatSource;
  readonly receivedAt: number;
}

/** The clock-offset estimate a frame arrived with (clock-offset.ts). */
interface OffsetReading {
  readonly offsetMs: number | null;
  readonly samples: number;
}

/** Everything the follower knows. */
export interface FollowerState {
  readonly config: FollowerConfig;
  readonly running: boolean;
  readonly map: TempoMap | null;
  /** The timing in force: the configured one, or frames after a clock-offset fallback. */
  readonly timing: Timing;
  readonly fallback: string | null;
  /** The last slot fired. */
  readonly last: BeatPosition | undefined;
  /** The slot after `last` on `map` (computed once per slot). */
  readonly next: { readonly map: TempoMap; readonly from: BeatPosition; readonly pos: BeatPosition } | undefined;
  readonly recent: readonly Fired[];
  readonly degraded: boolean;
  /** The armed timer's instant, 'deferred' while a woken late timer waits one I/O turn, or null. */
  readonly timer: number | 'deferred' | null;
  readonly lastBeatTime: number | undefined;
  readonly beatArrivals: readonly number[];
  readonly unsettled: Unsettled | undefined;
  /** A leader frame's HLC and offset reading, used at the next settle. */
  readonly frameHlc: string | undefined;
  readonly frameOffset: OffsetReading | undefined;
  /** When each drop reason was last reported, ms. */
  readonly reported: Readonly<Partial<Record<DropReason, number>>>;
}

/** What happens to a follower. */
export type FollowerEvent =
  | { readonly kind: 'start' }
  | { readonly kind: 'stop' }
  | { readonly kind: 'map'; readonly map: TempoMap | null }
  /** A frame that passed the gate, with its slot on the map. */
  | { readonly kind: 'frame'; readonly frame: BeatFrame; readonly pos: BeatPosition; readonly receivedAt: number; readonly offset: OffsetReading }
  | { readonly kind: 'drop'; readonly reason: DropReason; readonly detail: string; readonly log: boolean }
  /** Every client of the batch was called: do the bookkeeping. */
  | { readonly kind: 'settle' }
  /** The armed timer woke (`now` is when). */
  | { readonly kind: 'wake' }
  /** A deferred late timer's turn came. */
  | { readonly kind: 'due' }
  /** Shortly before the armed instant (grid timing): the slot's frame may be built now. */
  | { readonly kind: 'prepare' };

/** What the shell must do, in order. */
export type FollowerEffect =
  /** Call the slot's callbacks; `frame` null: a frame built from `map` (source local or grid). */
  | { readonly kind: 'fire'; readonly pos: BeatPosition; readonly source: BeatSource; readonly receivedAt: number; readonly frame: BeatFrame | null; readonly map: TempoMap | null }
  /** Replace any timer by one at `at` (calls back with `wake`, and `prepare` before grid slots). */
  | { readonly kind: 'arm'; readonly at: number }
  | { readonly kind: 'disarm' }
  /** Let the event loop read its sockets once, then send `due` (unless re-armed meanwhile). */
  | { readonly kind: 'defer' }
  /** Send `settle` once every client of this wake-up has been called. */
  | { readonly kind: 'settle-after-batch' }
  /** Build the frame of `pos` ahead of its instant. */
  | { readonly kind: 'prepare'; readonly map: TempoMap; readonly pos: BeatPosition }
  | { readonly kind: 'degraded'; readonly on: boolean }
  /** Merge a leader frame's HLC into the client's. */
  | { readonly kind: 'merge-hlc'; readonly hlc: string }
  | { readonly kind: 'error'; readonly message: string; readonly log: boolean }
  | { readonly kind: 'received' }
  | { readonly kind: 'dropped'; readonly reason: DropReason }
  | { readonly kind: 'confirmed'; readonly lagMs: number }
  | { readonly kind: 'skipped'; readonly slots: number }
  | { readonly kind: 'synthesized' }
  /** The last fired slot's bookkeeping is done (the shell records its callback time). */
  | { readonly kind: 'settled' };

/** One step's outcome. */
export interface Step {
  readonly state: FollowerState;
  readonly effects: FollowerEffect[];
}

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

/** A stopped follower with no map. */
export function initialFollowerState(config: FollowerConfig): FollowerState {
  return {
    config,
    running: false,
    map: null,
    timing: config.timing,
    fallback: null,
    last: undefined,
    next: undefined,
    recent: [],
    degraded: false,
    timer: null,
    lastBeatTime: undefined,
    beatArrivals: [],
    unsettled: undefined,
    frameHlc: undefined,
    frameOffset: undefined,
    reported: {},
  };
}

/** When slot `s` is due: its start (grid), or its start + the late delay (frames). */
export function dueAt(s: Pick<FollowerState, 'config' | 'timing'>, pos: BeatPosition): number {
  if (s.timing === 'grid') return pos.phaseStart;
  return pos.phaseStart + Math.min(s.config.toleranceMs, (pos.phaseEnd - pos.phaseStart) / 2);
}

/** The state after `event` at `now`, and what the shell must do. The input state is not changed. */
export function step(state: FollowerState, event: FollowerEvent, now: number): Step {
  const d: Draft = { ...state };
  const fx: FollowerEffect[] = [];
  switch (event.kind) {
    case 'start':
      d.running = true;
      arm(d, now, fx);
      break;
    case 'stop':
      d.running = false;
      if (d.timer !== null) fx.push({ kind: 'disarm' });
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
        fx.push({ kind: 'defer' });
      } else onDue(d, now, fx);
      break;
    case 'due':
      onDue(d, now, fx);
      break;
    case 'prepare':
      prepare(d, fx);
      break;
  }
  return { state: d, effects: fx };
}

type Draft = { -readonly [K in keyof FollowerState]: FollowerState[K] };

function accept(d: Draft, e: Extract<FollowerEvent, { kind: 'frame' }>, now: number, fx: FollowerEffect[]): void {
  if (!d.running) return;
  if (d.unsettled) settle(d, now, fx); // a grid slot's bookkeeping first: its frame may confirm it
  fx.push({ kind: 'received' });
  d.frameHlc = e.frame.hlc;
  d.frameOffset = e.offset;
  setDegraded(d, false, fx);
  const last = d.last;
  if (!last || compareSlots(e.pos, last) > 0) return fire(d, e.pos, e.frame, 'leader', e.receivedAt, now, fx);
  const i = d.recent.findIndex((r) => compareSlots(r.pos, e.pos) === 0);
  const mine = i >= 0 ? d.recent[i]! : undefined;
  if (mine && !mine.confirmed && mine.source === 'grid') fx.push({ kind: 'confirmed', lagMs: e.receivedAt - mine.firedAt });
  else fx.push({ kind: 'dropped', reason: compareSlots(e.pos, last) === 0 ? 'duplicate' : 'backwards' });
  if (mine && !mine.confirmed) d.recent = d.recent.map((r, k) => (k === i ? { ...r, confirmed: true } : r));
}

function drop(d: Draft, e: Extract<FollowerEvent, { kind: 'drop' }>, now: number, fx: FollowerEffect[]): void {
  if (!d.running) return;
  fx.push({ kind: 'received' }, { kind: 'dropped', reason: e.reason });
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
    const fired: Fired = { pos: u.pos, source: u.source, firedAt: u.receivedAt, confirmed: u.source === 'leader' };
    d.recent = d.recent.length >= RECENT ? [...d.recent.slice(1 - RECENT), fired] : [...d.recent, fired];
    if (u.source !== 'leader') fx.push({ kind: 'synthesized' });
    if (u.pos.phaseIndex === 0 && u.source === 'leader') {
      const a = d.beatArrivals;
      d.beatArrivals = a.length >= ARRIVALS ? [...a.slice(1 - ARRIVALS), u.receivedAt] : [...a, u.receivedAt];
    }
    fx.push({ kind: 'settled' });
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

/** The slot after the last one fired, computed once per slot and map. */
function nextOf(d: Draft, map: TempoMap, last: BeatPosition): BeatPosition {
  const n = d.next;
  if (n && n.map === map && n.from === last) return n.pos;
  const pos = nextSlot(map, last);
  d.next = { map, from: last, pos };
  return pos;
}

/** Waits for the next slot: its start (grid), or its start + the late delay (frames). */
function arm(d: Draft, now: number, fx: FollowerEffect[]): void {
  const map = d.map;
  if (!d.running || !map) {
    if (d.timer !== null) fx.push({ kind: 'disarm' });
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
  const n = d.next;
  // The slot armed for usually holds now: no search of the map.
  const cur = n && n.map === map && n.pos.phaseStart <= now && now < n.pos.phaseEnd ? n.pos : positionAt(map, now);
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
    const prev = d.recent.at(-1);
    if (prev && !prev.confirmed) setDegraded(d, true, fx);
  }
  fire(d, cur, null, grid ? 'grid' : 'local', now, now, fx);
  fx.push({ kind: 'settle-after-batch' });
}

/** Grid timing, shortly before the armed instant: the slot's frame can be built now. */
function prepare(d: Draft, fx: FollowerEffect[]): void {
  const map = d.map;
  if (!d.running || !map || d.timing !== 'grid' || !d.last) return;
  const next = nextOf(d, map, d.last);
  if (next.phaseStart !== d.timer) return;
  fx.push({ kind: 'prepare', map, pos: next });
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
