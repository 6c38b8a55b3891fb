/**
 * The own-frame observer: every pulse node listens to its cluster's BeatFrames (its own
 * included) to measure the drift of its local grid (BACKBEAT-REQ-003), to learn the last
 * (beat, phase) that reached the wire (a new leader resumes strictly after it, docs/spec.md §7
 * Election, terms and fencing), and to estimate its clock offset against the other pulse nodes from
 * their frames' HLC.
 */
import {
  compareSlots,
  hlcNodeSuffix,
  parseHlc,
  slot,
  timeOf,
  type Clock,
  type Hlc,
  type Logger,
  type SlotKey,
  type TempoMap,
} from '@backbeat/core';
import { parseBeatFrame, parseTermHeader, TERM_HEADER } from '@backbeat/contracts';
import type { Bus, Subscription } from '@backbeat/transport';
import { DriftTracker } from '../drift.js';

/** Options of {@link FrameObserver}. */
export interface FrameObserverOptions {
  readonly bus: Bus;
  readonly subject: string;
  readonly nodeId: string;
  readonly hlc: Hlc;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The local tempo map (frames are ignored until there is one). */
  readonly map: () => TempoMap | null;
  /**
   * The legitimate term as the lease shows it (docs/spec.md §7 Election, terms and fencing): frames
   * of any other term are not measured, so neither a deposed leader nor a stray publisher with a
   * huge term header moves what this node believes about the wire.
   */
  readonly leaseTerm: () => number;
  /** Called with the HLC of each frame from another node (the emitter thread keeps its HLC ahead of them). */
  readonly onRemoteHlc?: (hlc: string) => void;
  /** Called when the last slot seen on the wire moves forward. */
  readonly onSeen?: (slot: SlotKey) => void;
  /** Called after each measured frame with the new drift ratio. */
  readonly onDrift?: (ratio: number) => void;
}

/** A frame more than this far off its slot on the local grid is not believed (a stray frame far ahead). */
const ON_GRID_MS = 2000;
/** Peer offset samples kept: the smallest delay among them is the estimate. */
const PEER_SAMPLES = 32;

/** Watches the wire of one cluster. */
export class FrameObserver {
  readonly drift = new DriftTracker();
  #sub: Subscription | undefined;
  #last: SlotKey | undefined;
  #peer: number[] = [];
  readonly #ownSuffix: string;

  constructor(private readonly o: FrameObserverOptions) {
    this.#ownSuffix = hlcNodeSuffix(o.nodeId);
  }

  /** The latest (beat, phase) seen on the wire, any term. */
  get lastSeen(): SlotKey | undefined {
    return this.#last;
  }

  /**
   * This node's wall clock minus the other pulse nodes', in ms, from their frames (arrival
   * time minus HLC physical time; the smallest of the recent samples, so network delay adds
   * least), or null before a frame from another node arrived.
   */
  get peerOffsetMs(): number | null {
    return this.#peer.length === 0 ? null : Math.min(...this.#peer);
  }

  /**
   * Subscribes. The contract validators are compiled on first use, which can take a second on
   * a loaded host: parse one frame now, so that the first frame on the wire does not stall
   * this node's event loop (and its scheduler) while it leads.
   */
  start(): void {
    if (!this.#sub) parseBeatFrame('{}');
    this.#sub ??= this.o.bus.subscribe(this.o.subject, (msg) => this.#onFrame(msg.data, msg.headers[TERM_HEADER]));
  }

  stop(): void {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
  }

  /** Records a slot this node sent itself (the wire may not echo it back before the next decision). */
  noteSent(pos: SlotKey): void {
    if (this.#last && compareSlots(pos, this.#last) <= 0) return;
    this.#last = { beatIndex: pos.beatIndex, phaseIndex: pos.phaseIndex };
    this.o.onSeen?.(this.#last);
  }

  #onFrame(data: Uint8Array, termHeader: string | undefined): void {
    const { clock } = this.o;
    const arrivedAt = clock.now();
    const map = this.o.map();
    const r = parseBeatFrame(data);
    if (!r.ok || !map) return;
    const f = r.message;
    // Only the lease's term counts: a deposed leader's frame, or one whose header claims a
    // term the lease does not show, is not measured (docs/spec.md §7 Election, terms and fencing).
    if (parseTermHeader(termHeader) !== this.o.leaseTerm()) return;
    const phaseIndex = map.phases.indexOf(f.phase);
    if (phaseIndex < 0 || !Number.isSafeInteger(f.beat_index)) return;
    const scheduledAt = timeOf(map, f.beat_index, phaseIndex);
    if (Math.abs(arrivedAt - scheduledAt) > ON_GRID_MS) return;
    const remote = parseHlc(f.hlc);
    const wallNow = clock.wallNow();
    const hlc = this.o.hlc.update(f.hlc);
    if (!hlc.adopted) this.o.logger.warn({ skew_ms: hlc.skewMs }, 'frame HLC too far ahead; not adopted');
    if (remote.node !== this.#ownSuffix) {
      this.o.onRemoteHlc?.(f.hlc);
      this.#peer.push(wallNow - remote.physical);
      if (this.#peer.length > PEER_SAMPLES) this.#peer.shift();
    }
    // Measure only against a local map that already knows this beat's tempo (the KV watch
    // may lag a tempo change by a moment).
    if (slot(map, f.beat_index, phaseIndex).tempoBpm === f.tempo_bpm) {
      this.drift.record(arrivedAt, scheduledAt, remote.physical, wallNow);
      this.o.onDrift?.(this.drift.ratio());
    }
    this.noteSent({ beatIndex: f.beat_index, phaseIndex });
  }
}
