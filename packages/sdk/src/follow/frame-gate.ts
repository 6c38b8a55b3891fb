/**
 * The gate every BeatFrame passes before any client sees it (BACKBEAT-REQ-001, REQ-003,
 * docs/spec.md §7 Election, terms and fencing and §8 Degradation and grid timing): the SDK trusts
 * the lease and its own tempo map, never a header. A frame is accepted only when
 * - its `Backbeat-Term` is a plain integer (else `malformed`) equal to the lease's term (an
 *   older one is `old_term`; a newer one is held until the lease shows it, else `bad_term`),
 * - its (beat_index, phase, tempo_bpm, window_id, deadline_at, downbeat) agree with the
 *   client's tempo map within {@link GRID_TOLERANCE_MS} (else held while the map is re-read,
 *   then `off_grid`), and its slot does not start more than `aheadMs` after its receipt
 *   (`off_grid`),
 * - it arrives before its deadline_at (else `stale`).
 * Pure logic on an injected Clock: one gate serves every client on a bus (beat-hub.ts), so
 * each frame is checked once. The frame expected next is recognised by its bytes and skips
 * the parse, the schema and the grid arithmetic (frame-template.ts), never the checks above.
 * No header value turns a check off: with no lease to read (a single-node pulse, or a KV the
 * client may not read) there is no term fencing at all, and the grid checks still hold.
 */
import { compareSlots, windowId, type BeatPosition, type Clock, type TempoMap, type TimerHandle } from '@backbeat/core';
import { parseBeatFrame, parseTermHeader, type BeatFrame } from '@backbeat/contracts';
import type { DropReason } from './beat-types.js';
import { ClockOffsetEstimator } from './clock-offset.js';
import { FollowerEffects } from './follower-effects.js';
import { frameTemplate, matchFrameTemplate, type FrameTemplate } from './frame-template.js';
import type {
  AcceptedFrame,
  FrameGateOptions,
  GateListener,
  IncomingFrame,
  LeaseView,
  MapSource,
} from './gate-types.js';
import { GridMemo } from './grid-memo.js';
import { mapFromFrame, startsOnLearnedGrid } from './learned-map.js';
import { GRID_TOLERANCE_MS, onGrid } from './on-grid.js';

/** Longest a frame is held while the lease or the tempo map is re-read. */
export const HOLD_MS = 250;

interface Held {
  readonly incoming: IncomingFrame;
  readonly why: 'lease' | 'map';
  readonly timer: TimerHandle;
}

/** Checks frames against the lease and the tempo map; see the file comment. */
export class FrameGate {
  readonly listeners = new Set<GateListener>();
  readonly offset = new ClockOffsetEstimator();
  /** Grid work done once per slot for the clients of this gate (grid-memo.ts). */
  readonly grid: GridMemo;
  /**
   * The effects stack of this gate's followers (follower-effects.ts): they step one at a time on
   * one thread, so one buffer serves them all and stays in the CPU's cache (a buffer per client
   * cost about 0.1 us per client and slot with 250 clients, `npm run bench:sdk`'s hot loop).
   */
  readonly effects = new FollowerEffects();
  /** The window id (a sha256) of the last downbeat checked: every frame of a bar shares it. */
  #window = { clusterId: '', downbeatIndex: -1, id: '' };
  readonly #windowIdOf = (clusterId: string, downbeatIndex: number): string => {
    const w = this.#window;
    if (w.downbeatIndex === downbeatIndex && w.clusterId === clusterId) return w.id;
    const id = windowId(clusterId, downbeatIndex);
    this.#window = { clusterId, downbeatIndex, id };
    return id;
  };
  #map: TempoMap | null = null;
  #mapSource: MapSource = 'none';
  #lease: LeaseView = { state: 'absent', reason: 'lease not read yet' };
  #held: Held | undefined;
  /** The expected text of the slot after the last accepted frame (frame-template.ts), and the map it is for. */
  #next: { readonly t: FrameTemplate | null; readonly map: TempoMap; readonly key: BeatPosition } | undefined;
  /** Frames that took the template's short path, and all frames offered as bytes. */
  #matched = 0;
  #offered = 0;

  constructor(
    private readonly clusterId: string,
    private readonly clock: Clock,
    private readonly options: FrameGateOptions,
  ) {
    this.grid = new GridMemo(clusterId);
  }

  get map(): TempoMap | null {
    return this.#map;
  }

  get mapSource(): MapSource {
    return this.#mapSource;
  }

  get lease(): LeaseView {
    return this.#lease;
  }

  /** The tempo map from the cluster's KV state (checked by the caller with checkTempoMap). */
  setMap(map: TempoMap): void {
    this.#map = map;
    this.#mapSource = 'kv';
    for (const l of this.listeners) l.mapChanged();
    this.#retryHeld('map');
  }

  /** The lease as read from KV. */
  setLease(lease: LeaseView): void {
    this.#lease = lease;
    for (const l of this.listeners) l.leaseChanged(lease);
    this.#retryHeld('lease');
  }

  /** Cancels a held frame's timer. */
  stop(): void {
    if (this.#held) this.clock.clearTimeout(this.#held.timer);
    this.#held = undefined;
  }

  /**
   * Decodes and checks one frame as it came off the bus. The frame the leader is expected to
   * send next is recognised by its bytes (frame-template.ts) and skips the parse, the schema
   * and the grid arithmetic; every other frame is parsed and validated against INT-A. Either
   * way the same checks decide and every listener hears the verdict.
   */
  offerBytes(data: Uint8Array, termHeader: string | undefined, receivedAt: number): void {
    this.#offered++;
    const next = this.#next;
    const t = next?.t;
    if (t && next.map === this.#map) {
      const frame = matchFrameTemplate(t, data);
      if (frame) {
        this.#matched++;
        return this.#check({ frame, termHeader, receivedAt }, true, t);
      }
    }
    const r = parseBeatFrame(data);
    this.#check(
      r.ok ? { frame: r.message, termHeader, receivedAt } : { error: r.error.message, termHeader, receivedAt },
      true,
    );
  }

  /** How many frames offered as bytes took the template's short path (a measure, for tests and benchmarks). */
  get templateHits(): { readonly matched: number; readonly offered: number } {
    return { matched: this.#matched, offered: this.#offered };
  }

  /** Checks one parsed frame and tells every listener the verdict. */
  offer(incoming: IncomingFrame): void {
    this.#check(incoming, true);
  }

  /** `known`: the template the frame matched (its schema and grid checks are done). */
  #check(incoming: IncomingFrame, mayHold: boolean, known?: FrameTemplate): void {
    const { frame, receivedAt } = incoming;
    if (!frame) return this.#drop('invalid', `invalid BeatFrame: ${incoming.error ?? 'unknown error'}`);
    if (frame.cluster_id !== this.clusterId)
      return this.#drop('other_cluster', `frame of cluster '${frame.cluster_id}'`);
    const term = parseTermHeader(incoming.termHeader);
    if (term === null)
      return this.#drop(
        'malformed',
        `frame ${frame.beat_index}.${frame.phase}: Backbeat-Term header ` +
          `'${String(incoming.termHeader).slice(0, 40)}' is not a term`,
      );
    const deadline = known ? known.deadline : Date.parse(frame.deadline_at);
    if (this.clock.now() > deadline)
      return this.#drop(
        'stale',
        `frame ${frame.beat_index}.${frame.phase} arrived after its deadline ${frame.deadline_at}`,
      );
    const lease = this.#lease;
    if (lease.state === 'held' && term !== lease.term) {
      if (term < lease.term) return this.#drop('old_term', `frame of term ${term}, the lease is at term ${lease.term}`);
      if (mayHold) return this.#hold(incoming, 'lease');
      return this.#drop('bad_term', `frame of term ${term}, the lease is at term ${lease.term}`);
    }
    let pos: BeatPosition | null = null;
    if (known && this.#next?.t === known && this.#next.map === this.#map) {
      pos = known.pos;
    } else if (!this.#map) {
      if (!Number.isSafeInteger(frame.beat_index))
        return this.#drop('off_grid', `frame beat_index ${frame.beat_index} is not a safe integer`);
      this.#learn(frame, deadline);
      pos = onGrid(this.#map!, this.clusterId, frame, deadline, this.#windowIdOf);
    } else {
      pos = onGrid(this.#map, this.clusterId, frame, deadline, this.#windowIdOf);
      if (!pos && this.#mapSource === 'frames' && this.#relearn(frame, deadline)) {
        pos = onGrid(this.#map, this.clusterId, frame, deadline, this.#windowIdOf);
      }
      if (!pos && mayHold && this.#mapSource === 'kv') return this.#hold(incoming, 'map');
    }
    if (!pos)
      return this.#drop(
        'off_grid',
        `frame ${frame.beat_index}.${frame.phase} (${frame.tempo_bpm} BPM, ` +
          `deadline ${frame.deadline_at}) is not on the tempo map`,
      );
    this.offset.sample(receivedAt - pos.phaseStart);
    if (pos.phaseStart - receivedAt > this.options.aheadMs) {
      return this.#drop(
        'off_grid',
        `frame ${frame.beat_index}.${frame.phase} arrived ` +
          `${(pos.phaseStart - receivedAt).toFixed(1)} ms before its slot`,
      );
    }
    // One value for every listener, read-only (not frozen: a freeze costs microseconds on a cold path).
    const accepted: AcceptedFrame = { kind: 'frame', frame, pos, term, receivedAt, offset: this.offset.reading };
    for (const l of this.listeners) l.accept(accepted);
    for (const l of this.listeners) l.settle?.();
    this.#prepareAfter(pos);
  }

  /** After the callbacks: the template of the slot after `pos`, for the next frame. */
  #prepareAfter(pos: BeatPosition): void {
    const map = this.#map;
    if (!map) return;
    const next = this.grid.nextSlot(map, pos);
    const n = this.#next;
    if (n && n.map === map && compareSlots(n.key, next) === 0) return;
    const check = (f: BeatFrame, d: number) => onGrid(map, this.clusterId, f, d, this.#windowIdOf);
    this.#next = { t: frameTemplate(this.clusterId, map, next, check), map, key: next };
  }

  #drop(reason: DropReason, detail: string): void {
    let first = true;
    for (const l of this.listeners) {
      l.drop(reason, detail, first);
      first = false;
    }
  }

  /** Holds the newest questionable frame (at most one) until KV confirms it or HOLD_MS pass. */
  #hold(incoming: IncomingFrame, why: 'lease' | 'map'): void {
    if (this.#held) {
      const old = this.#held;
      this.clock.clearTimeout(old.timer);
      this.#held = undefined;
      this.#check(old.incoming, false);
    }
    const deadline = Date.parse(incoming.frame!.deadline_at);
    const until = Math.min(incoming.receivedAt + HOLD_MS, deadline);
    const timer = this.clock.setTimeout(
      () => {
        if (this.#held?.incoming !== incoming) return;
        this.#held = undefined;
        try {
          this.#check(incoming, false);
        } catch (err) {
          this.#drop(
            why === 'lease' ? 'bad_term' : 'off_grid',
            `held frame could not be checked: ${(err as Error).message}`,
          ); // never throw in a timer
        }
      },
      Math.max(0, until - this.clock.now()),
    );
    this.#held = { incoming, why, timer };
    this.options.refresh?.(why);
  }

  /** Re-checks the held frame when the news can settle it: a new lease, or the re-read map. */
  #retryHeld(what: 'lease' | 'map'): void {
    const held = this.#held;
    if (!held || held.why !== what) return;
    const lease = this.#lease;
    if (what === 'lease' && lease.state === 'held' && lease.term < (parseTermHeader(held.incoming.termHeader) ?? 0))
      return;
    this.clock.clearTimeout(held.timer);
    this.#held = undefined;
    this.#check(held.incoming, false);
  }

  /** No map from KV: the first accepted frame teaches the grid (learned-map.ts). */
  #learn(frame: BeatFrame, deadline: number): void {
    this.#map = mapFromFrame(this.#map, frame, deadline);
    this.#mapSource = 'frames';
    for (const l of this.listeners) l.mapChanged();
  }

  /** A learned grid follows a tempo change at a beat that starts where it says; never a jump. */
  #relearn(frame: BeatFrame, deadline: number): boolean {
    if (!startsOnLearnedGrid(this.#map!, frame, GRID_TOLERANCE_MS)) return false;
    this.#learn(frame, deadline);
    return true;
  }
}
