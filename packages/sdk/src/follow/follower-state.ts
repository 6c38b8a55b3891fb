/**
 * The follower machine's vocabulary (follower-machine.ts; docs/spec.md §8 Degradation and grid
 * timing): what it knows (state), what happens to it (events) and what it asks its shell to do
 * (effects), and the two rules both the machine and its tests read: the initial state and when
 * a slot is due. The effects are in follower-effects.ts.
 */
import type { BeatPosition, SlotKey, TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatSource, DropReason, Timing } from './beat-types.js';
import type { OffsetReading } from './clock-offset.js';

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
  /**
   * core's `nextSlot`, or a memo of it that gives the same answers (the shell's: one computation
   * per slot for every client of a gate, grid-memo.ts). @default core's nextSlot
   */
  readonly nextSlot?: (map: TempoMap, from: SlotKey) => BeatPosition;
}

/** A fired slot: its bookkeeping waits for `settle`; then it is remembered among the `recent` ones. */
export interface FiredSlot {
  pos: BeatPosition;
  prev: BeatPosition | undefined;
  source: BeatSource;
  receivedAt: number;
}

/**
 * Everything the follower knows. The shell owns it and the machine's `step` updates it in place
 * (a copy per step cost more than the rest of a slot's work); {@link cloneFollowerState} makes
 * an independent twin. Readers outside the machine treat it as read-only.
 */
export interface FollowerState {
  readonly config: FollowerConfig;
  running: boolean;
  map: TempoMap | null;
  /** The timing in force: the configured one, or frames after a clock-offset fallback. */
  timing: Timing;
  fallback: string | null;
  /** The last slot fired. */
  last: BeatPosition | undefined;
  /** The last slots fired (at most RECENT), oldest first, for confirmation by late leader frames; records reused. */
  readonly recent: FiredSlot[];
  /** Bit k set: recent[k] is confirmed (fired by, or confirmed by, a leader frame). */
  confirmed: number;
  degraded: boolean;
  /** The armed timer's instant, 'deferred' while a woken late timer waits one I/O turn, or null. */
  timer: number | 'deferred' | null;
  lastBeatTime: number | undefined;
  /** Receipt times of the last leader beats, oldest first (updated in place). */
  readonly beatArrivals: number[];
  /** `pending` is a fired slot whose bookkeeping waits for `settle`. */
  unsettled: boolean;
  /** The fired slot waiting for `settle` (meaningful while `unsettled`; the record is reused). */
  readonly pending: FiredSlot;
  /** A leader frame's HLC and offset reading, used at the next settle. */
  frameHlc: string | undefined;
  frameOffset: OffsetReading | undefined;
  /** When each drop reason was last reported, ms. */
  readonly reported: Partial<Record<DropReason, number>>;
}

/** What happens to a follower. */
export type FollowerEvent =
  | { readonly kind: 'start' }
  | { readonly kind: 'stop' }
  | { readonly kind: 'map'; readonly map: TempoMap | null }
  /** A frame that passed the gate, with its slot on the map. */
  | {
      readonly kind: 'frame';
      readonly frame: BeatFrame;
      readonly pos: BeatPosition;
      readonly receivedAt: number;
      readonly offset: OffsetReading;
    }
  | { readonly kind: 'drop'; readonly reason: DropReason; readonly detail: string; readonly log: boolean }
  /** Every client of the batch was called: do the bookkeeping. */
  | { readonly kind: 'settle' }
  /** The armed timer woke (`now` is when). */
  | { readonly kind: 'wake' }
  /** A deferred late timer's turn came. */
  | { readonly kind: 'due' };

/** A stopped follower with no map. */
export function initialFollowerState(config: FollowerConfig): FollowerState {
  return {
    config,
    running: false,
    map: null,
    timing: config.timing,
    fallback: null,
    last: undefined,
    recent: [],
    confirmed: 0,
    degraded: false,
    timer: null,
    lastBeatTime: undefined,
    beatArrivals: [],
    unsettled: false,
    pending: { pos: NO_SLOT, prev: undefined, source: 'leader', receivedAt: 0 },
    frameHlc: undefined,
    frameOffset: undefined,
    reported: {},
  };
}

/** An independent copy of `s` (the values it shares are immutable: config, map, slots, readings). */
export function cloneFollowerState(s: FollowerState): FollowerState {
  return {
    config: s.config,
    running: s.running,
    map: s.map,
    timing: s.timing,
    fallback: s.fallback,
    last: s.last,
    recent: s.recent.map(copyFired),
    confirmed: s.confirmed,
    degraded: s.degraded,
    timer: s.timer,
    lastBeatTime: s.lastBeatTime,
    beatArrivals: s.beatArrivals.slice(),
    unsettled: s.unsettled,
    pending: copyFired(s.pending),
    frameHlc: s.frameHlc,
    frameOffset: s.frameOffset,
    reported: { ...s.reported },
  };
}

function copyFired(f: FiredSlot): FiredSlot {
  return { pos: f.pos, prev: f.prev, source: f.source, receivedAt: f.receivedAt };
}

/** The pending record's slot before anything fired (never read: `unsettled` is false). */
const NO_SLOT: BeatPosition = Object.freeze({
  beatIndex: -1,
  phaseIndex: 0,
  phase: 'plan',
  tempoBpm: 0,
  beatStart: 0,
  phaseStart: 0,
  phaseEnd: 0,
  downbeat: false,
  barIndex: -1,
  beatInBar: 0,
  downbeatIndex: -1,
});

/** When slot `s` is due: its start (grid), or its start + the late delay (frames). */
export function dueAt(s: Pick<FollowerState, 'config' | 'timing'>, pos: BeatPosition): number {
  if (s.timing === 'grid') return pos.phaseStart;
  return pos.phaseStart + Math.min(s.config.toleranceMs, (pos.phaseEnd - pos.phaseStart) / 2);
}
