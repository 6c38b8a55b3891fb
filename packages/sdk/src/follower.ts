/**
 * Follows the beat (BACKBEAT-REQ-040, REQ-003): fires each (beat, phase) exactly once, in
 * order, from the leader's frames; when a frame is later than the jitter tolerance it fires
 * the slot itself from its copy of the tempo map (source 'local') and re-joins the leader
 * when frames return, without firing any slot twice.
 */
import { compareSlots, formatHlc, nextSlot, positionAt, slot, slotAtOrAfter, type BeatPosition, type Clock, type Hlc, type TempoMap, type TimerHandle } from '@backbeat/core';
import { buildBeatFrame, type BeatFrame } from '@backbeat/contracts';

/** Where a callback's beat came from. */
export type BeatSource = 'leader' | 'local';

/** What every beat callback receives besides the frame. */
export interface BeatInfo {
  readonly source: BeatSource;
  /** clock.now() when the frame arrived, or when the slot was fired locally. */
  readonly receivedAt: number;
  /** The slot's scheduled start on the grid. */
  readonly scheduledAt: number;
}

/** Why a frame was not used. */
export type DropReason = 'invalid' | 'old_term' | 'backwards' | 'duplicate' | 'other_cluster';

/** Hooks of the follower. */
export interface FollowerEvents {
  /** A slot to dispatch, exactly once per (beat, phase), in grid order. */
  fire(frame: BeatFrame, info: BeatInfo): void;
  dropped(reason: DropReason): void;
  degradation(active: boolean): void;
}

/** Keeps this process on the cluster's grid. */
export class BeatFollower {
  #map: TempoMap | null = null;
  #last: BeatPosition | undefined;
  #term = 0;
  #timer: TimerHandle | undefined;
  #degraded = false;
  #lastFrameAt: number | undefined;
  #running = false;

  constructor(
    private readonly clusterId: string,
    private readonly clock: Clock,
    private readonly hlc: Hlc,
    private readonly toleranceMs: number,
    private readonly events: FollowerEvents,
  ) {}

  /** The map the follower keeps time with. */
  get map(): TempoMap | null {
    return this.#map;
  }

  /** The last slot fired. */
  get last(): BeatPosition | undefined {
    return this.#last;
  }

  get degraded(): boolean {
    return this.#degraded;
  }

  get lastFrameAt(): number | undefined {
    return this.#lastFrameAt;
  }

  start(): void {
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A tempo map from the cluster's shared state (or derived from frames). */
  setMap(map: TempoMap): void {
    this.#map = map;
    this.#arm();
  }

  /** A valid BeatFrame from the bus, with its `Backbeat-Term` header. */
  onFrame(frame: BeatFrame, term: number, receivedAt: number): void {
    if (frame.cluster_id !== this.clusterId) return this.events.dropped('other_cluster');
    if (term < this.#term) return this.events.dropped('old_term'); // a deposed leader (SPEC 6)
    this.#term = term;
    this.#learn(frame);
    const map = this.#map!;
    const phaseIndex = map.phases.indexOf(frame.phase);
    if (phaseIndex < 0) return this.events.dropped('invalid');
    const pos = { beatIndex: frame.beat_index, phaseIndex };
    if (this.#last) {
      const order = compareSlots(pos, this.#last);
      if (order < 0) return this.events.dropped('backwards');
      if (order === 0) {
        // Already fired locally while the leader was late: re-join without firing twice.
        this.#lastFrameAt = receivedAt;
        this.#setDegraded(false);
        return this.events.dropped('duplicate');
      }
      // Fill slots nobody sent (a failover gap) locally, in order, before this one.
      for (let s = nextSlot(map, this.#last); compareSlots(s, pos) < 0; s = nextSlot(map, s)) this.#fireLocal(s);
    }
    this.#lastFrameAt = receivedAt;
    this.#setDegraded(false);
    this.#last = slot(map, pos.beatIndex, pos.phaseIndex);
    this.events.fire(frame, { source: 'leader', receivedAt, scheduledAt: this.#last.phaseStart });
    this.#arm();
  }

  /** Learns the grid from a frame when no map is known, or when the frame shows a new tempo. */
  #learn(frame: BeatFrame): void {
    const phases = frame.phases ?? this.#map?.phases ?? ['plan', 'execute', 'review'];
    const barLength = frame.bar_length ?? this.#map?.barLength ?? 8;
    const p = phases.indexOf(frame.phase);
    const known = this.#map ? slot(this.#map, frame.beat_index, Math.max(0, p)) : undefined;
    // deadline_at has millisecond precision: agreement within 1 ms is agreement.
    if (known && known.tempoBpm === frame.tempo_bpm && Math.abs(known.phaseEnd - Date.parse(frame.deadline_at)) < 1) return;
    // Derive a segment from this frame: its beat starts p phases before scheduled_at (or
    // p + 1 before deadline_at). Both have ms precision; scheduled_at of a first phase is exact
    // whenever beats start on whole milliseconds.
    const beatMs = 60_000 / frame.tempo_bpm;
    const startTime = frame.scheduled_at
      ? Date.parse(frame.scheduled_at) - (p * beatMs) / phases.length
      : Date.parse(frame.deadline_at) - ((p + 1) * beatMs) / phases.length;
    const keep = (this.#map?.segments ?? []).filter((s) => s.startBeat < frame.beat_index && s.startTime < startTime);
    this.#map = {
      segments: [...keep, { startBeat: frame.beat_index, startTime, tempoBpm: frame.tempo_bpm }],
      barLength,
      phases: phases as TempoMap['phases'],
    };
  }

  #setDegraded(on: boolean): void {
    if (this.#degraded === on) return;
    this.#degraded = on;
    this.events.degradation(on);
  }

  /** Arms the local timer for the next slot: it fires only if the leader's frame is late. */
  #arm(): void {
    if (this.#timer) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#running || !this.#map) return;
    const next = this.#last ? nextSlot(this.#map, this.#last) : slotAtOrAfter(this.#map, this.clock.now());
    const due = next.phaseStart + this.toleranceMs;
    this.#timer = this.clock.setTimeout(() => this.#onLate(), Math.max(0, due - this.clock.now()));
  }

  #onLate(): void {
    this.#timer = undefined;
    const map = this.#map;
    if (!map || !this.#running) return;
    const now = this.clock.now();
    // Fire every slot whose frame is overdue, in order (several after a stalled loop).
    let next = this.#last ? nextSlot(map, this.#last) : positionAt(map, now - this.toleranceMs);
    if (!next) return this.#arm();
    while (next.phaseStart + this.toleranceMs <= now) {
      this.#setDegraded(true);
      this.#fireLocal(next);
      next = nextSlot(map, next);
    }
    this.#arm();
  }

  #fireLocal(pos: BeatPosition): void {
    const map = this.#map!;
    this.#last = pos;
    const frame = buildBeatFrame(this.clusterId, map, pos, formatHlc(this.hlc.now()));
    this.events.fire(frame, { source: 'local', receivedAt: this.clock.now(), scheduledAt: pos.phaseStart });
  }
}
