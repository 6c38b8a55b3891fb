/**
 * Follows the beat (BACKBEAT-REQ-040, REQ-003, docs/spec.md §8 Degradation and grid timing) for one
 * client: takes the frames its {@link FrameGate} accepted, keeps time when they are late, and calls
 * the client's beat callbacks exactly once per (beat, phase), in grid order.
 * - `frames` timing: a leader frame fires its slot on receipt; when none arrived by the
 *   slot's start + the jitter tolerance (at most half the phase), the slot fires from the
 *   tempo map (source `local`) and the client reports local degradation until frames return.
 * - `grid` timing (docs/decisions/0004-sdk-beat-delivery.md): every slot fires from the tempo map
 * at its instant (source
 *   `grid`) on the process's shared {@link SlotTimer}; the leader's frame confirms it
 *   (confirmation lag is a metric). A frame for a slot not fired yet fires it (source
 *   `leader`). Losing the leader changes only health. Beyond `maxClockOffsetMs` between this
 *   clock and the leader's (clock-offset.ts) it falls back to frames timing and says so.
 * Catch-up is bounded: after a stall, a gap or a forward jump no stale slot fires. Only the
 * slot that holds "now" can fire; the ones skipped are counted (`slotsSkipped`).
 * Pure logic on an injected Clock; {@link BeatFollower.follow} joins the bus's beat hub.
 */
import { compareSlots, nextSlot, positionAt, slotAtOrAfter, type BeatPosition, type Clock, type Hlc, type TempoMap } from '@backbeat/core';
import { buildBeatFrame, type BeatFrame } from '@backbeat/contracts';
import type { Bus } from '@backbeat/transport';
import { joinBeatHub } from './beat-hub.js';
import type { AcceptedFrame, DropReason, FrameGate, GateListener, LeaseView, MapSource } from './frame-gate.js';
import type { SdkMetrics } from './metrics.js';
import type { SlotTimer } from './slot-timer.js';

/** Where a callback's beat came from. */
export type BeatSource = 'leader' | 'local' | 'grid';

/** How a client times its callbacks. */
export type Timing = 'grid' | 'frames';

/** What every beat callback receives besides the frame. */
export interface BeatInfo {
  readonly source: BeatSource;
  /** clock.now() when the frame arrived, or when the slot was fired from the tempo map. */
  readonly receivedAt: number;
  /** The slot's scheduled start on the grid. */
  readonly scheduledAt: number;
}

/** A beat callback: the frame (the leader's, or built from the tempo map) and where it came from. */
export type BeatCallback = (frame: BeatFrame, info: BeatInfo) => void;

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

interface Fired {
  readonly pos: BeatPosition;
  readonly source: BeatSource;
  readonly firedAt: number;
  confirmed: boolean;
}

/** Drops that are part of normal operation (a failover, a late frame): counted, not reported. */
const QUIET_DROPS = new Set<DropReason>(['duplicate', 'backwards', 'stale', 'old_term']);
/** Shortest interval between two health reports of drops of one reason, ms. */
const REPORT_EVERY_MS = 1000;
/** Fired slots remembered for confirmation by late leader frames. */
const RECENT = 8;
/** A positive offset estimate includes the network delay: it counts against the bound divided by this. */
const LEAD_FACTOR = 5;
/** Frames the clock-offset estimate needs before timing may change. */
const OFFSET_MIN_SAMPLES = 4;

/** Keeps one client on the cluster's grid. */
export class BeatFollower implements GateListener {
  #gate: FrameGate | undefined;
  #detach: (() => void) | undefined;
  #last: BeatPosition | undefined;
  #recent: Fired[] = [];
  #cancelTimer: (() => void) | undefined;
  /** Due time of the armed timer (meaningful while #cancelTimer is set). */
  #armedDue = NaN;
  #degraded = false;
  #running = false;
  #timing: Timing;
  #fallback: string | null = null;
  #lastBeatTime: number | undefined;
  #beatArrivals: number[] = [];
  readonly #mapListeners = new Set<() => void>();
  readonly #reported = new Map<DropReason, number>();
  readonly #leaseListeners = new Set<(lease: LeaseView) => void>();
  readonly #callbacks = { phase: new Set<BeatCallback>(), beat: new Set<BeatCallback>(), downbeat: new Set<BeatCallback>() };

  readonly #onTimerBound = (firedAt: number): void => this.#onTimer(firedAt);
  /** The bookkeeping of the last slot fired, done once every client of the batch has been called. */
  #unsettled: { pos: BeatPosition; prev: BeatPosition | undefined; source: BeatSource; receivedAt: number; callbackMs: number } | undefined;
  /** A leader frame's HLC, merged after the batch. */
  #frameHlc: string | undefined;
  readonly #settleBound = (): void => this.settle();
  readonly #prepareBound = (): void => this.#prepare();
  /** Grid timing: the armed slot's frame, built before its instant (SlotTimer prepare). */
  #prepared: { map: TempoMap; pos: BeatPosition; frame: BeatFrame } | undefined;

  constructor(private readonly o: FollowerOptions) {
    this.#timing = o.timing;
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

  /** The last slot fired. */
  get current(): BeatPosition | undefined {
    return this.#last;
  }

  get degraded(): boolean {
    return this.#degraded;
  }

  /** The timing in force: the configured one, or frames after a clock-offset fallback. */
  get timing(): Timing {
    return this.#timing;
  }

  /** Why grid timing fell back to frames, or null. */
  get timingFallback(): string | null {
    return this.#fallback;
  }

  /** When the last beat's first phase fired (clock.now()). */
  get lastBeatTime(): number | undefined {
    return this.#lastBeatTime;
  }

  /** Receipt times of the last leader beats (first phases), for the measured tempo. */
  get beatArrivals(): readonly number[] {
    return this.#beatArrivals;
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
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#detach?.();
    this.#detach = undefined;
  }

  /**
   * GateListener: a frame that passed the gate. Only the callbacks and what they can see (the
   * current slot, health) happen here; the gate calls {@link settle} once every listener had
   * the frame, so the last client of a hub is not called after everyone else's bookkeeping.
   */
  accept(f: AcceptedFrame): void {
    if (!this.#running) return;
    if (this.#unsettled) this.settle(); // a grid slot's bookkeeping first: its frame may confirm it
    const m = this.o.metrics;
    m.received();
    this.#frameHlc = f.frame.hlc;
    const pos = f.pos;
    const last = this.#last;
    this.#setDegraded(false);
    if (last && compareSlots(pos, last) <= 0) {
      const mine = this.#recent.find((r) => compareSlots(r.pos, pos) === 0);
      if (mine && !mine.confirmed && mine.source === 'grid') m.confirmed(f.receivedAt - mine.firedAt);
      else m.dropped(compareSlots(pos, last) === 0 ? 'duplicate' : 'backwards');
      if (mine) mine.confirmed = true;
    } else {
      this.#fire(pos, f.frame, 'leader', f.receivedAt);
    }
  }

  /**
   * The bookkeeping after a batch of callbacks (GateListener, and the SlotTimer's afterFire):
   * metrics, the slots remembered for confirmation, the HLC merge, the clock-offset check and
   * the timer for the next slot. Idempotent.
   */
  settle(): void {
    const u = this.#unsettled;
    if (u) {
      this.#unsettled = undefined;
      const m = this.o.metrics;
      if (u.prev) {
        const phases = this.map?.phases.length ?? 3;
        const skipped = u.pos.beatIndex * phases + u.pos.phaseIndex - (u.prev.beatIndex * phases + u.prev.phaseIndex) - 1;
        if (skipped > 0) m.skipped(skipped);
      }
      this.#recent.push({ pos: u.pos, source: u.source, firedAt: u.receivedAt, confirmed: u.source === 'leader' });
      if (this.#recent.length > RECENT) this.#recent.shift();
      if (u.source !== 'leader') m.synthesized();
      if (u.pos.phaseIndex === 0 && u.source === 'leader') {
        this.#beatArrivals.push(u.receivedAt);
        if (this.#beatArrivals.length > 11) this.#beatArrivals.shift();
      }
      m.callback(u.callbackMs);
    }
    const hlc = this.#frameHlc;
    if (hlc !== undefined) {
      this.#frameHlc = undefined;
      try {
        this.o.metrics.skew(this.o.hlc.update(hlc).skewMs / 1000);
      } catch {
        // The schema checked the HLC's form; an impossible value only leaves the HLC alone.
      }
      this.#checkOffset();
    }
    if (this.#running) this.#arm();
  }

  /** GateListener: a frame that did not pass; what was wrong with it goes to health. */
  drop(reason: DropReason, detail = '', log = true): void {
    if (!this.#running) return;
    this.o.metrics.received();
    this.o.metrics.dropped(reason);
    if (detail === '' || QUIET_DROPS.has(reason)) return;
    const now = this.o.clock.now();
    if (now - (this.#reported.get(reason) ?? -Infinity) < REPORT_EVERY_MS) return; // a flood is counted, reported once a second
    this.#reported.set(reason, now);
    this.o.onError(`frame dropped (${reason}): ${detail}`, log);
  }

  mapChanged(): void {
    if (!this.#running) return;
    this.#arm();
    for (const l of this.#mapListeners) l();
  }

  leaseChanged(lease: LeaseView): void {
    for (const l of this.#leaseListeners) l(lease);
  }

  /** Calls `listener` with every lease update the client reads; returns the unsubscribe. */
  onLeaseChange(listener: (lease: LeaseView) => void): () => void {
    this.#leaseListeners.add(listener);
    return () => this.#leaseListeners.delete(listener);
  }

  #checkOffset(): void {
    const est = this.#gate?.offset;
    if (this.o.timing !== 'grid' || !est || est.samples < OFFSET_MIN_SAMPLES || est.offsetMs === null) return;
    // A negative estimate is a proven lag; a positive one includes the network delay (a
    // loaded host delays frames by tens of ms), so only a lead beyond LEAD_FACTOR x the bound counts.
    const max = this.o.maxClockOffsetMs;
    const off = est.offsetMs < 0 ? -est.offsetMs : est.offsetMs / LEAD_FACTOR;
    if (this.#timing === 'grid' && off > max) {
      this.#timing = 'frames';
      this.#fallback = est.offsetMs < 0 ? `this clock is at least ${(-est.offsetMs).toFixed(1)} ms behind the leader's (bound ${max} ms): grid timing fell back to frames` : `frames arrive at least ${est.offsetMs.toFixed(1)} ms after their slot (this clock ahead, or the network slow; bound ${LEAD_FACTOR} x ${max} ms): grid timing fell back to frames`;
      this.o.onError(this.#fallback);
      this.#arm();
    } else if (this.#timing === 'frames' && off <= max / 2) {
      this.#timing = 'grid';
      this.#fallback = null;
      this.#arm();
    }
  }

  #setDegraded(on: boolean): void {
    if (this.#degraded === on) return;
    this.#degraded = on;
    this.o.metrics.degraded(on);
    this.o.onDegradation(on);
  }

  /** Waits for the next slot: its start (grid), or its start + the late delay (frames). */
  #arm(): void {
    const map = this.map;
    if (!this.#running || !map) {
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
      return;
    }
    const next = this.#last ? nextOf(map, this.#last) : slotAtOrAfter(map, this.o.clock.now());
    const due = this.#dueAt(next);
    if (this.#cancelTimer && this.#armedDue === due) return; // a confirmation changes nothing: keep the timer
    this.#cancelTimer?.();
    this.#armedDue = due;
    this.#cancelTimer = this.o.timer.at(due, this.#onTimerBound, this.#prepareBound);
  }

  #dueAt(s: BeatPosition): number {
    return this.#timing === 'grid' ? s.phaseStart : s.phaseStart + Math.min(this.o.toleranceMs, (s.phaseEnd - s.phaseStart) / 2);
  }

  /**
   * The late timer (frames timing) first lets the event loop read its sockets once: after a
   * busy spell libuv runs due timers before polling I/O, so a frame that arrived in time
   * would otherwise lose to its own late timer and the slot would fire as `local`.
   */
  #onTimer(firedAt: number): void {
    const clock = this.o.clock;
    if (this.#timing === 'frames' && clock.defer) {
      let cancelled = false;
      this.#armedDue = NaN;
      this.#cancelTimer = () => (cancelled = true);
      clock.defer(() => cancelled || this.#onDue(clock.now()));
      return;
    }
    this.#onDue(firedAt);
  }

  /**
   * Fires the slot that holds `now`, if it is due and not fired yet; never a stale one.
   * `now` is when the shared timer woke: every client of one wake-up fires with it.
   */
  #onDue(now: number): void {
    this.#cancelTimer = undefined;
    const map = this.map;
    if (!this.#running || !map) return;
    const cur = slotHolding(map, now);
    if (!cur || (this.#last && compareSlots(cur, this.#last) <= 0)) return this.#arm();
    const dueAt = this.#dueAt(cur);
    if (now < dueAt) {
      this.#armedDue = dueAt;
      this.#cancelTimer = this.o.timer.at(dueAt, this.#onTimerBound, this.#prepareBound);
      return;
    }
    const grid = this.#timing === 'grid';
    if (!grid) this.#setDegraded(true);
    else {
      const prev = this.#recent.at(-1);
      if (prev && !prev.confirmed) this.#setDegraded(true);
    }
    const p = this.#prepared;
    this.#prepared = undefined;
    const frame = p && p.map === map && compareSlots(p.pos, cur) === 0 ? p.frame : withHlc(slotFrame(this.o.clusterId, map, cur), '');
    frame.hlc = this.o.hlc.nowString();
    this.#fire(cur, frame, grid ? 'grid' : 'local', now);
    this.o.timer.afterFire(this.#settleBound);
  }

  /**
   * SlotTimer prepare, ~2.5 ms before the armed instant (grid timing): the slot's frame is
   * built then, so that the instant costs this client an HLC stamp and its callbacks.
   */
  #prepare(): void {
    const map = this.map;
    if (!this.#running || !map || this.#timing !== 'grid' || !this.#last) return;
    const next = nextOf(map, this.#last);
    if (next.phaseStart !== this.#armedDue) return;
    this.#prepared = { map, pos: next, frame: withHlc(slotFrame(this.o.clusterId, map, next), '') };
  }

  /** Calls the callbacks of a slot; its bookkeeping waits for {@link settle}. */
  #fire(pos: BeatPosition, frame: BeatFrame, source: BeatSource, receivedAt: number): void {
    if (this.#unsettled) this.settle(); // never two slots' bookkeeping at once
    const prev = this.#last;
    this.#last = pos;
    const first = pos.phaseIndex === 0;
    if (first) this.#lastBeatTime = receivedAt;
    const info = infoOf(source, receivedAt, pos.phaseStart);
    this.#call(this.#callbacks.phase, frame, info);
    if (first) this.#call(this.#callbacks.beat, frame, info);
    if (first && frame.downbeat) this.#call(this.#callbacks.downbeat, frame, info);
    this.#unsettled = { pos, prev, source, receivedAt, callbackMs: this.o.clock.now() - receivedAt };
  }

  #call(set: Set<BeatCallback>, frame: BeatFrame, info: BeatInfo): void {
    for (const cb of set) {
      try {
        const r = cb(frame, info) as unknown;
        if (r instanceof Promise) r.catch((err: unknown) => this.o.onError(`beat callback rejected: ${(err as Error)?.message ?? String(err)}`));
      } catch (err) {
        this.o.onError(`beat callback threw: ${(err as Error).message}`);
      }
    }
  }
}

// Every client of a process fires the same slot of the same map (the hub's) at the same
// instant: the grid arithmetic is done once per slot, not once per client.
let held: { map: TempoMap; pos: BeatPosition } | undefined;
let stepped: { map: TempoMap; from: BeatPosition; next: BeatPosition } | undefined;

/** positionAt, remembered for the slot last asked about. */
function slotHolding(map: TempoMap, t: number): BeatPosition | null {
  const h = held;
  if (h && h.map === map && h.pos.phaseStart <= t && t < h.pos.phaseEnd) return h.pos;
  const pos = positionAt(map, t);
  if (pos) held = { map, pos };
  return pos;
}

/** nextSlot, remembered for the slot last asked about. */
function nextOf(map: TempoMap, from: BeatPosition): BeatPosition {
  const s = stepped;
  if (s && s.map === map && compareSlots(s.from, from) === 0) return s.next;
  const next = nextSlot(map, from);
  stepped = { map, from, next };
  return next;
}

let lastBuilt: { clusterId: string; map: TempoMap; pos: BeatPosition; frame: BeatFrame } | undefined;
/**
 * buildBeatFrame for a slot, built once for every client of the process that fires it (the
 * window id is a sha256); each client stamps its own HLC on a copy.
 */
function slotFrame(clusterId: string, map: TempoMap, pos: BeatPosition): BeatFrame {
  const b = lastBuilt;
  if (b && b.map === map && b.clusterId === clusterId && compareSlots(b.pos, pos) === 0) return b.frame;
  const frame = buildBeatFrame(clusterId, map, pos, '0000:0000:0000');
  lastBuilt = { clusterId, map, pos, frame };
  return frame;
}

/** A slot's frame with a client's HLC: a copy (field by field, faster than a spread). */
function withHlc(b: BeatFrame, hlc: string): BeatFrame {
  return { type: b.type, cluster_id: b.cluster_id, beat_index: b.beat_index, downbeat: b.downbeat, phase: b.phase, hlc, deadline_at: b.deadline_at, tempo_bpm: b.tempo_bpm, window_id: b.window_id, scheduled_at: b.scheduled_at, bar_length: b.bar_length, phases: b.phases };
}

let lastInfo: BeatInfo | undefined;
/** The BeatInfo, frozen and shared by every client that fires a slot at the same wake-up. */
function infoOf(source: BeatSource, receivedAt: number, scheduledAt: number): BeatInfo {
  const i = lastInfo;
  if (i && i.receivedAt === receivedAt && i.scheduledAt === scheduledAt && i.source === source) return i;
  return (lastInfo = Object.freeze({ source, receivedAt, scheduledAt }));
}

function add(set: Set<BeatCallback>, cb: BeatCallback): () => void {
  const wrapped: BeatCallback = (f, i) => cb(f, i);
  set.add(wrapped);
  return () => set.delete(wrapped);
}
