/**
 * The emission path of one slot (the critical path): fence check, never backwards on the
 * wire, never a frame queued behind an unconfirmed one, HLC splice, publish. Used in-thread
 * (MemoryBus, `backbeat dev`) and by the emitter thread (emitter-worker.ts) alike; what it
 * sees of the rest of the node comes through functions, what it did goes out as events.
 */
import { compareSlots, type BeatPosition, type Clock, type Hlc, type Phase, type SlotKey, type TempoMap } from '@backbeat/core';
import { encodeTermHeader, TERM_HEADER } from '@backbeat/contracts';
import { subjects, type Bus } from '@backbeat/transport';
import { FrameEncoder } from './frame-encoder.js';

/** A flush unconfirmed this long after its frame was sent means a stalled connection. @default 250 */
export const STALL_FENCE_MS = 250;

/** Why a slot got no frame from a node that could publish. */
export type SkipReason = 'stale' | 'behind_wire' | 'stalled' | 'publish_error';

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

/** Options of {@link FramePublisher}. */
export interface FramePublisherOptions {
  readonly bus: Bus;
  readonly clusterId: string;
  readonly hlc: Hlc;
  readonly clock: Clock;
  readonly map: () => TempoMap | null;
  /** The term this node may publish under at `now`, or 0 when it may not (the fence). */
  readonly term: (now: number) => number;
  /** The last slot known to be on the wire: nothing at or before it is sent. */
  readonly floor: () => SlotKey | undefined;
  readonly onPublished: (f: PublishedFrame) => void;
  readonly onSkip: (reason: SkipReason, pos: BeatPosition) => void;
  /** The connection stalled; the publisher has dropped it. The node must fence itself. */
  readonly onStalled: (unconfirmedMs: number) => void;
  readonly onPublishError?: (err: Error, pos: BeatPosition) => void;
}

/** Publishes the slots the scheduler hands it. */
export class FramePublisher {
  readonly #o: FramePublisherOptions;
  readonly #encoder: FrameEncoder;
  readonly #subjects: ReturnType<typeof subjects>;
  /** Frames sent whose flush is not known to be confirmed yet, oldest first. */
  #inflight: Array<{ sentAt: number; confirmed: boolean }> = [];
  #header: { term: number; headers: Record<string, string> } = { term: 0, headers: {} };
  #lastSent: SlotKey | undefined;

  constructor(options: FramePublisherOptions) {
    this.#o = options;
    this.#encoder = new FrameEncoder(options.clusterId);
    this.#subjects = subjects(options.clusterId);
  }

  /** The last slot this publisher sent. */
  get lastSent(): SlotKey | undefined {
    return this.#lastSent;
  }

  /** Forgets what was in flight (the node stopped leading). */
  reset(): void {
    this.#inflight = [];
    this.#encoder.clear();
  }

  /** The scheduler armed `pos`: prepare its bytes while there is time. */
  arm(pos: BeatPosition): void {
    const map = this.#o.map();
    if (map && this.#o.term(this.#o.clock.now()) > 0) this.#encoder.prepare(map, pos);
  }

  /** The scheduler skipped `pos` as stale. */
  skipStale(pos: BeatPosition): void {
    if (this.#o.term(this.#o.clock.now()) > 0) this.#o.onSkip('stale', pos);
  }

  /** `pos` is due now. */
  fire(pos: BeatPosition, firedAt: number): void {
    const { bus, clock } = this.#o;
    const term = this.#o.term(clock.now());
    const map = this.#o.map();
    if (term <= 0 || !map) return;
    const floor = this.#o.floor();
    if ((floor && compareSlots(pos, floor) <= 0) || (this.#lastSent && compareSlots(pos, this.#lastSent) <= 0)) {
      // Never backwards on the wire, whatever the local clock says (docs/spec.md §5 The beat grid
      // and the tempo map and §7 Election, terms and fencing).
      return this.#o.onSkip('behind_wire', pos);
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
      this.#o.onSkip('stalled', pos);
      bus.dropConnection();
      return this.#o.onStalled(unconfirmedMs);
    }
    if (this.#header.term !== term) this.#header = { term, headers: { [TERM_HEADER]: encodeTermHeader(term) } };
    const headers = this.#header.headers;
    const ready = this.#encoder.take(map, pos);
    const data = this.#encoder.encode(ready, this.#o.hlc.nowString());
    const t0 = performance.now();
    try {
      bus.publish(this.#subjects.beat, data, { headers });
      if (ready.legacy) bus.publish(this.#subjects.control, ready.legacy, { headers });
    } catch (err) {
      // A closed connection must not take the process down; the lease will lapse.
      this.#o.onSkip('publish_error', pos);
      this.#o.onPublishError?.(err as Error, pos);
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
    this.#o.onPublished({
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
