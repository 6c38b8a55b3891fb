/**
 * The emission path of one slot (the critical path): fence check, never backwards on the
 * wire, never a frame queued behind a stalled connection, one write in flight to the beat
 * stream, HLC splice, send. What it knows of the node (tempo map, wire floor) is pushed into
 * it; the term comes from the fence; what it did goes out as events.
 */
import {
  compareSlots,
  type BeatPosition,
  type Clock,
  type Hlc,
  type Phase,
  type SlotKey,
  type TempoMap,
} from '@backbeat/core';
import type { Bus } from '@backbeat/transport';
import type { BeatSink } from './beat-sink.js';
import { FrameEncoder } from './frame-encoder.js';

/** A flush unconfirmed this long after its frame was sent means a stalled connection. @default 250 */
export const STALL_FENCE_MS = 250;

/** Why a slot got no frame from a node that could publish. */
export type SkipReason =
  | 'stale'
  | 'behind_wire'
  | 'stalled'
  | 'publish_error'
  | 'unacked'
  | 'syncing'
  | 'refused'
  | 'not_stored';

/** One frame sent. */
export interface PublishedFrame {
  readonly beatIndex: number;
  readonly phaseIndex: number;
  readonly phase: Phase;
  readonly scheduledAt: number;
  readonly firedAt: number;
  readonly publishedAt: number;
  /** Time spent in publish(), ms. */
  readonly publishMs: number;
}

/** What the slot publisher reports. */
export interface SlotPublisherEvents {
  readonly onPublished: (f: PublishedFrame) => void;
  readonly onSkip: (reason: SkipReason, pos: BeatPosition) => void;
  /** The connection stalled; the publisher has dropped it. The node must fence itself. */
  readonly onStalled: (unconfirmedMs: number) => void;
  readonly onPublishError: (err: Error, pos: BeatPosition) => void;
}

/** Options of {@link SlotPublisher}. */
export interface SlotPublisherOptions {
  readonly bus: Bus;
  readonly clusterId: string;
  readonly hlc: Hlc;
  readonly clock: Clock;
  readonly map: TempoMap;
  /** The term this node may publish under at `now`, or 0 when it may not (the fence). */
  readonly term: (now: number) => number;
  readonly sink: BeatSink;
  readonly events: SlotPublisherEvents;
}

/** Publishes the slots the scheduler hands it. */
export class SlotPublisher {
  readonly #o: SlotPublisherOptions;
  readonly #encoder: FrameEncoder;
  /** Frames sent whose flush is not known to be confirmed yet, oldest first. */
  #inflight: Array<{ sentAt: number; confirmed: boolean }> = [];
  #lastSent: SlotKey | undefined;
  #map: TempoMap;
  #floor: SlotKey | undefined;

  constructor(options: SlotPublisherOptions) {
    this.#o = options;
    this.#map = options.map;
    this.#encoder = new FrameEncoder(options.clusterId);
  }

  /** The tempo map in force (read at every slot). */
  get map(): TempoMap {
    return this.#map;
  }

  setMap(map: TempoMap): void {
    this.#map = map;
  }

  /** The last slot known to be on the wire: nothing at or before it is sent. Only moves forward. */
  setFloor(floor: SlotKey): void {
    if (!this.#floor || compareSlots(floor, this.#floor) > 0)
      this.#floor = { beatIndex: floor.beatIndex, phaseIndex: floor.phaseIndex };
  }

  /** Forgets what was in flight (the node stopped leading). */
  reset(): void {
    this.#inflight = [];
    this.#encoder.clear();
    this.#o.sink.reset();
  }

  /** The scheduler armed `pos`: prepare its bytes (and the sink its write) while there is time. */
  arm(pos: BeatPosition): void {
    const term = this.#o.term(this.#o.clock.now());
    if (term <= 0) return;
    this.#encoder.prepare(this.#map, pos);
    this.#o.sink.prepare(term);
  }

  /** The scheduler skipped `pos` as stale. */
  skipStale(pos: BeatPosition): void {
    if (this.#o.term(this.#o.clock.now()) > 0) this.#o.events.onSkip('stale', pos);
  }

  /** `pos` is due now. */
  fire(pos: BeatPosition, firedAt: number): void {
    const { bus, clock, sink, events } = this.#o;
    const term = this.#o.term(clock.now());
    if (term <= 0) return;
    const floor = this.#floor;
    if ((floor && compareSlots(pos, floor) <= 0) || (this.#lastSent && compareSlots(pos, this.#lastSent) <= 0)) {
      // Never backwards on the wire, whatever the local clock says (docs/spec.md §5 The beat grid
      // and the tempo map and §7 Election, terms and fencing).
      return events.onSkip('behind_wire', pos);
    }
    while (this.#inflight[0]?.confirmed) this.#inflight.shift();
    const oldest = this.#inflight[0];
    if (oldest && clock.now() - oldest.sentAt >= STALL_FENCE_MS) {
      // No frame outlives its slot: a frame whose flush is still unconfirmed after
      // STALL_FENCE_MS means a stalled connection. Nothing more goes into it: the node fences
      // itself and the connection is dropped with everything buffered for it. (A younger
      // unconfirmed flush is a slow event loop or link, not a stall: the frame goes out, and
      // the oldest unconfirmed flush keeps the clock running.)
      const unconfirmedMs = clock.now() - oldest.sentAt;
      this.#inflight = [];
      events.onSkip('stalled', pos);
      bus.dropConnection();
      return events.onStalled(unconfirmedMs);
    }
    const held = sink.hold(term, clock.now());
    if (held) return events.onSkip(held, pos);
    const ready = this.#encoder.take(this.#map, pos);
    const data = this.#encoder.encode(ready, this.#o.hlc.nowString());
    const t0 = performance.now();
    try {
      sink.send(term, data, ready.legacy);
    } catch (err) {
      // A closed connection must not take the process down; the lease will lapse.
      events.onSkip('publish_error', pos);
      events.onPublishError(err as Error, pos);
      return;
    }
    const t1 = performance.now();
    const sent = { sentAt: clock.now(), confirmed: false };
    this.#inflight.push(sent);
    bus.flush().then(
      () => (sent.confirmed = true),
      // The connection that held the frame is gone, and its buffer with it.
      () => (sent.confirmed = true),
    );
    this.#lastSent = { beatIndex: pos.beatIndex, phaseIndex: pos.phaseIndex };
    events.onPublished({
      beatIndex: pos.beatIndex,
      phaseIndex: pos.phaseIndex,
      phase: pos.phase,
      scheduledAt: pos.phaseStart,
      firedAt,
      publishedAt: performance.timeOrigin + t0,
      publishMs: t1 - t0,
    });
  }
}
