/**
 * Follows the beat for one client (BACKBEAT-REQ-040, REQ-003, docs/spec.md §8 Degradation and grid timing): the
 * shell around the pure machine of follower-machine.ts, which decides which slot fires when. This class turns the
 * gate's verdicts (frame-gate.ts) and the shared slot timer's wake-ups (slot-timer.ts) into machine events, and
 * carries out the effects: it calls the client's beat callbacks exactly once per (beat, phase), in grid order, arms
 * the timer, merges HLCs and records metrics and health. {@link BeatFollower.follow} joins the bus's beat hub.
 */
import { nextSlot, type BeatPosition, type Clock, type Hlc, type SlotKey, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { Bus } from '@backbeat/transport';
import type { SdkMetrics } from '../metrics.js';
import { joinBeatHub } from './beat-hub.js';
import type { BeatCallback, BeatInfo, DropReason, Timing } from './beat-types.js';
import { slotToPrepare, step } from './follower-machine.js';
import { FollowerEffects, type FollowerEffect } from './follower-effects.js';
import { initialFollowerState, type FollowerEvent, type FollowerState } from './follower-state.js';
import type { FrameGate } from './frame-gate.js';
import type { AcceptedFrame, GateListener, LeaseView, MapSource } from './gate-types.js';
import { withHlc } from './grid-memo.js';
import type { SlotTimer } from './slot-timer.js';

/** What a follower needs. */
export interface FollowerOptions {
  readonly clusterId: string;
  readonly clock: Clock;
  readonly hlc: Hlc;
  /** How late a leader frame may be before the slot fires locally (frames timing), ms. */
  readonly toleranceMs: number;
  readonly timing: Timing;
  /** Grid timing falls back to frames beyond this clock offset from the leader, ms. */
  readonly maxClockOffsetMs: number;
  readonly metrics: SdkMetrics;
  readonly timer: SlotTimer;
  /** A problem worth showing in health (a callback threw, a timing fallback). */
  readonly onError: (message: string, log?: boolean) => void;
  readonly onDegradation: (active: boolean) => void;
}

/** Keeps one client on the cluster's grid. */
export class BeatFollower implements GateListener {
  readonly #state: FollowerState; // the machine's, updated in place by every step
  /** The effects stack before a gate is attached (then the gate's, shared by its followers). */
  readonly #effects = new FollowerEffects();
  #gate: FrameGate | undefined;
  #detach: (() => void) | undefined;
  #cancelTimer: (() => void) | undefined;
  /** Bumped by every arm and disarm: a deferred late timer of an older generation does nothing. */
  #generation = 0;
  /** Grid timing: the armed slot's frame, built before its instant (SlotTimer prepare), and its slot and map. */
  #prepared: BeatFrame | undefined;
  #preparedPos: BeatPosition | undefined;
  #preparedMap: TempoMap | null = null;
  /** Receipt (or firing) to the end of the last slot's callbacks, recorded when it settles. */
  #callbackMs = 0;
  readonly #mapListeners = new Set<() => void>();
  readonly #leaseListeners = new Set<(lease: LeaseView) => void>();
  readonly #callbacks = {
    phase: new Set<BeatCallback>(),
    beat: new Set<BeatCallback>(),
    downbeat: new Set<BeatCallback>(),
  };
  readonly #onWake = (firedAt: number): void => {
    this.#cancelTimer = undefined; // the shared timer forgets a callback once it ran
    this.#step(WAKE_EVENT, firedAt);
  };
  /** SlotTimer prepare, ~2.5 ms before the armed instant: the grid slot's frame is built then. */
  readonly #onPrepare = (): void => {
    const pos = slotToPrepare(this.#state);
    if (!pos) return;
    const map = this.#state.map!;
    this.#prepared = this.#unstamped(map, pos);
    this.#preparedPos = pos;
    this.#preparedMap = map;
  };
  readonly #settleBound = (): void => this.settle();

  constructor(private readonly o: FollowerOptions) {
    const canDefer = typeof o.clock.defer === 'function';
    const { toleranceMs, timing, maxClockOffsetMs } = o;
    // The clients of a gate share its grid memo (the same answers as core's nextSlot, once per slot).
    const next = (map: TempoMap, from: SlotKey): BeatPosition => (this.#gate?.grid ?? coreGrid).nextSlot(map, from);
    this.#state = initialFollowerState({ toleranceMs, timing, maxClockOffsetMs, canDefer, nextSlot: next });
  }

  /** Joins the bus's shared beat subscription and KV watch (beat-hub.ts). */
  async follow(bus: Bus, onKvError: (message: string, log: boolean) => void): Promise<void> {
    const hub = await joinBeatHub(bus, this.o.clusterId, this.o.clock, this.o.toleranceMs, onKvError);
    this.attach(hub.gate);
    const detach = this.#detach!;
    this.#detach = () => {
      detach();
      hub.leave();
    };
  }

  /** Listens to `gate` (tests use a gate without a bus). */
  attach(gate: FrameGate): void {
    this.#gate = gate;
    gate.listeners.add(this);
    this.#detach = () => gate.listeners.delete(this);
    if (gate.map !== this.#state.map) this.#step({ kind: 'map', map: gate.map });
  }

  /** The machine's state (read only, changed by every step; for tests and health). */
  get state(): Readonly<FollowerState> {
    return this.#state;
  }

  /** The tempo map the follower keeps time with. */
  get map(): TempoMap | null {
    return this.#gate?.map ?? null;
  }

  /** Where the map comes from (KV, frames, none). */
  get mapSource(): MapSource {
    return this.#gate?.mapSource ?? 'none';
  }

  /** The lease frames are fenced with. */
  get lease(): LeaseView {
    return this.#gate?.lease ?? { state: 'absent', reason: 'not following yet' };
  }

  /** This clock minus the leader's, ms (an upper bound), or null before frames. */
  get clockOffsetMs(): number | null {
    return this.#gate?.offset.offsetMs ?? null;
  }

  /** Calls `listener` whenever the tempo map changes; returns the unsubscribe. */
  onMapChange(listener: () => void): () => void {
    this.#mapListeners.add(listener);
    return () => this.#mapListeners.delete(listener);
  }

  /** Calls `listener` with every lease update the client reads; returns the unsubscribe. */
  onLeaseChange(listener: (lease: LeaseView) => void): () => void {
    this.#leaseListeners.add(listener);
    return () => this.#leaseListeners.delete(listener);
  }

  /** The last slot fired. */
  get current(): FollowerState['last'] {
    return this.#state.last;
  }

  get degraded(): boolean {
    return this.#state.degraded;
  }

  /** The timing in force: the configured one, or frames after a clock-offset fallback. */
  get timing(): Timing {
    return this.#state.timing;
  }

  /** Why grid timing fell back to frames, or null. */
  get timingFallback(): string | null {
    return this.#state.fallback;
  }

  /** When the last beat's first phase fired (clock.now()). */
  get lastBeatTime(): number | undefined {
    return this.#state.lastBeatTime;
  }

  /** Receipt times of the last leader beats (first phases), for the measured tempo. */
  get beatArrivals(): readonly number[] {
    return this.#state.beatArrivals;
  }

  onPhase(cb: BeatCallback): () => void {
    return add(this.#callbacks.phase, cb);
  }

  onBeat(cb: BeatCallback): () => void {
    return add(this.#callbacks.beat, cb);
  }

  onDownbeat(cb: BeatCallback): () => void {
    return add(this.#callbacks.downbeat, cb);
  }

  start(): void {
    this.#step(START_EVENT);
  }

  stop(): void {
    this.#step(STOP_EVENT);
    this.#detach?.();
    this.#detach = undefined;
  }

  /** GateListener: a frame that passed the gate (callbacks only; the gate calls {@link settle} after all listeners). */
  accept(f: AcceptedFrame): void {
    this.#step(f, f.receivedAt); // the machine reads `now` only for a follower that fired nothing yet
  }

  /** The bookkeeping after a batch of callbacks (GateListener, and the SlotTimer's afterFire); idempotent. */
  settle(): void {
    this.#step(SETTLE_EVENT);
  }

  /** GateListener: a frame that did not pass; what was wrong with it goes to health. */
  drop(reason: DropReason, detail = '', log = true): void {
    this.#step({ kind: 'drop', reason, detail, log });
  }

  mapChanged(): void {
    this.#step({ kind: 'map', map: this.#gate?.map ?? null });
    if (!this.#state.running) return;
    for (const l of this.#mapListeners) l();
  }

  leaseChanged(lease: LeaseView): void {
    for (const l of this.#leaseListeners) l(lease);
  }

  #step(event: FollowerEvent, now = this.o.clock.now()): void {
    const fx = this.#gate?.effects ?? this.#effects;
    // A stack: a step inside an effect appends above `to` and truncates back. No try/finally on this
    // cold path: should an effect throw, its step's records stay below the next steps', never run.
    const from = fx.length;
    step(this.#state, event, now, fx);
    const to = fx.length;
    for (let i = from; i < to; i++) {
      const e = fx.at(i);
      if (e.kind === 'fire') this.#fire(e);
      else this.#do(e);
    }
    fx.truncate(from);
  }

  #do(e: FollowerEffect): void {
    const m = this.o.metrics;
    switch (e.kind) {
      case 'received':
        return m.received();
      case 'settled':
        return m.callback(this.#callbackMs);
      case 'arm':
        this.#cancel();
        this.#cancelTimer = this.o.timer.at(e.at, this.#onWake, this.#onPrepare);
        return;
      case 'disarm':
        return this.#cancel();
      case 'defer':
        return this.#defer();
      case 'settle-after-batch':
        return this.o.timer.afterFire(this.#settleBound);
      case 'degraded':
        m.degraded(e.on);
        return this.o.onDegradation(e.on);
      case 'merge-hlc':
        try {
          m.skew(this.o.hlc.update(e.hlc).skewMs / 1000);
        } catch {
          // The schema checked the HLC's form; an impossible value only leaves the HLC alone.
        }
        return;
      case 'error':
        return this.o.onError(e.message, e.log);
      case 'dropped':
        return m.dropped(e.reason);
      case 'confirmed':
        return m.confirmed(e.lagMs);
      case 'skipped':
        return m.skipped(e.slots);
      case 'synthesized':
        return m.synthesized();
      case 'fire':
        return this.#fire(e);
    }
  }

  #cancel(): void {
    this.#generation++;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /**
   * The late timer (frames timing) first lets the event loop read its sockets once: after a
   * busy spell libuv runs due timers before polling I/O, so a frame that arrived in time
   * would otherwise lose to its own late timer and the slot would fire as `local`.
   */
  #defer(): void {
    this.#cancelTimer = undefined;
    const generation = this.#generation;
    this.o.clock.defer!(() => {
      if (generation === this.#generation) this.#step(DUE_EVENT);
    });
  }

  /** Calls the callbacks of a slot. */
  #fire(e: Extract<FollowerEffect, { kind: 'fire' }>): void {
    const { pos, source, receivedAt } = e;
    let frame = e.frame;
    if (!frame) {
      const p = this.#prepared;
      const q = this.#preparedPos;
      this.#prepared = undefined;
      const map = e.map!;
      const same = p && this.#preparedMap === map && q!.beatIndex === pos.beatIndex && q!.phaseIndex === pos.phaseIndex;
      frame = same ? p : this.#unstamped(map, pos);
      frame.hlc = this.o.hlc.nowString();
    }
    const first = pos.phaseIndex === 0;
    const info: BeatInfo = this.#gate!.grid.info(source, receivedAt, pos.phaseStart);
    this.#call(this.#callbacks.phase, frame, info);
    if (first) this.#call(this.#callbacks.beat, frame, info);
    if (first && frame.downbeat) this.#call(this.#callbacks.downbeat, frame, info);
    this.#callbackMs = this.o.clock.now() - receivedAt;
  }

  /** A slot's frame built from the map, a copy of this client's own (its HLC set when it fires). */
  #unstamped(map: TempoMap, pos: BeatPosition): BeatFrame {
    return withHlc(this.#gate!.grid.frameOf(map, pos), '');
  }

  #call(set: Set<BeatCallback>, frame: BeatFrame, info: BeatInfo): void {
    for (const cb of set) {
      try {
        const r = cb(frame, info) as unknown;
        if (r instanceof Promise)
          r.catch((err: unknown) => this.o.onError(`beat callback rejected: ${messageOf(err)}`));
      } catch (err) {
        this.o.onError(`beat callback threw: ${(err as Error).message}`);
      }
    }
  }
}

// The events that carry nothing: one frozen object each.
const WAKE_EVENT: FollowerEvent = Object.freeze({ kind: 'wake' });
const START_EVENT: FollowerEvent = Object.freeze({ kind: 'start' });
const STOP_EVENT: FollowerEvent = Object.freeze({ kind: 'stop' });
const SETTLE_EVENT: FollowerEvent = Object.freeze({ kind: 'settle' });
const DUE_EVENT: FollowerEvent = Object.freeze({ kind: 'due' });

/** Before a gate is attached: core's own. */
const coreGrid = { nextSlot };

function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

function add(set: Set<BeatCallback>, cb: BeatCallback): () => void {
  const wrapped: BeatCallback = (f, i) => cb(f, i);
  set.add(wrapped);
  return () => set.delete(wrapped);
}
