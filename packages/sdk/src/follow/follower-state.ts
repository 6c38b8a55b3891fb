/**
 * The follower machine's vocabulary (follower-machine.ts; docs/spec.md §8 Degradation and grid
 * timing): what it knows (state), what happens to it (events) and what it asks its shell to do
 * (effects), and the two rules both the machine and its tests read: the initial state and when
 * a slot is due.
 */
import type { BeatPosition, SlotKey, TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatSource, Timing } from './beat-types.js';
import type { OffsetReading } from './clock-offset.js';
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
  /**
   * core's `nextSlot`, or a memo of it that gives the same answers (the shell's: one computation
   * per slot for every client of a gate, grid-memo.ts). @default core's nextSlot
   */
  readonly nextSlot?: (map: TempoMap, from: SlotKey) => BeatPosition;
}

/** A fired slot: its bookkeeping waits for `settle`; then it is remembered among the `recent` ones. */
export interface FiredSlot {
  readonly pos: BeatPosition;
  readonly prev: BeatPosition | undefined;
  readonly source: BeatSource;
  readonly receivedAt: number;
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
  /** The last slots fired, oldest first, for confirmation by late leader frames. */
  readonly recent: readonly FiredSlot[];
  /** Bit k set: recent[k] is confirmed (fired by, or confirmed by, a leader frame). */
  readonly confirmed: number;
  readonly degraded: boolean;
  /** The armed timer's instant, 'deferred' while a woken late timer waits one I/O turn, or null. */
  readonly timer: number | 'deferred' | null;
  readonly lastBeatTime: number | undefined;
  readonly beatArrivals: readonly number[];
  readonly unsettled: FiredSlot | undefined;
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

/** What the shell must do, in order. */
export type FollowerEffect =
  /** Call the slot's callbacks; `frame` null: a frame built from `map` (source local or grid). */
  | {
      readonly kind: 'fire';
      readonly pos: BeatPosition;
      readonly source: BeatSource;
      readonly receivedAt: number;
      readonly frame: BeatFrame | null;
      readonly map: TempoMap | null;
    }
  /** Replace any timer by one at `at` (it calls back with `wake`; before it, ask slotToPrepare). */
  | { readonly kind: 'arm'; readonly at: number }
  | { readonly kind: 'disarm' }
  /** Let the event loop read its sockets once, then send `due` (unless re-armed meanwhile). */
  | { readonly kind: 'defer' }
  /** Send `settle` once every client of this wake-up has been called. */
  | { readonly kind: 'settle-after-batch' }
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
