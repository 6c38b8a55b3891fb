/**
 * The one emitter factory: a scheduler that fires every slot of the grid, a slot publisher
 * that sends it, and the sink it sends into (the beat stream with `--beat-fencing server`, the
 * beat subject with `sender`). The inline mode (this thread) and the emitter thread build it
 * alike; the node pushes the tempo map and the wire floor into it, and it reads the term
 * from the fence it is given.
 */
import { InvalidArgumentError, type Clock, type Hlc, type SlotKey, type TempoMap } from '@backbeat/core';
import { NatsBus, type Bus } from '@backbeat/transport';
import { BeatScheduler } from './beat-scheduler.js';
import { DirectSink, type BeatFencing, type BeatSink } from './beat-sink.js';
import type { FallbackEvent, QuorumTerm } from './direct-fallback.js';
import { ServerFencedSink } from './server-fenced-sink.js';
import { SlotPublisher, type PublishedFrame, type SkipReason } from './slot-publisher.js';

/** What an emitter reports, in this thread or from the emitter thread. */
export interface EmitterEvents {
  readonly onPublished: (f: PublishedFrame) => void;
  readonly onSkip: (reason: SkipReason) => void;
  /** The connection stalled and was dropped: the node must fence itself. */
  readonly onStalled: (ms: number) => void;
  /** The beat stream refused `term`'s write for `newerTerm`'s: the node must fence itself. */
  readonly onRefused: (term: number, newerTerm: number) => void;
  /** A one-line warning (a publish that failed, a slot callback that threw). */
  readonly onWarning: (message: string) => void;
  /** The direct fallback while the beat stream does not answer: entered, a frame, left. */
  readonly onFallback: (e: FallbackEvent) => void;
}

/** What {@link startSlotEmitter} needs. */
export interface SlotEmitterSetup {
  readonly bus: Bus;
  readonly clusterId: string;
  readonly hlc: Hlc;
  readonly clock: Clock;
  readonly map: TempoMap;
  /** The term this node may publish under at `now`, or 0 (the fence). */
  readonly term: (now: number) => number;
  /** The term whose lease a quorum write holds at `now`, or 0 (the fence; the direct fallback's condition). */
  readonly quorumTerm: QuorumTerm;
  /**
   * The beat stream stored a frame of `term` whose write was sent at `sentAt` (`server` fencing):
   * the lease's evidence that this leader still writes through the majority (the shared fence).
   */
  readonly beatStored: (term: number, sentAt: number) => void;
  readonly fencing: BeatFencing;
  /** Copies of the beat stream (`server` fencing). */
  readonly replicas: number;
  readonly staleAfterMs: number;
  readonly precise: boolean;
  /** 'block' for a thread that only emits; 'poll' keeps this thread's event loop serving I/O. */
  readonly wait: 'poll' | 'block';
  readonly events: EmitterEvents;
}

/** A running emitter. */
export interface SlotEmitter {
  setMap(map: TempoMap): void;
  setFloor(floor: SlotKey): void;
  /** The node stopped leading: forget what was in flight. */
  reset(): void;
  stop(): void;
}

/**
 * Who checks a frame's fencing token: the option, or by default the server on a NATS bus
 * (the pulse always has JetStream there: its lease is in it) and the sender on the in-memory bus.
 * @throws InvalidArgumentError for `server` on the in-memory bus
 */
export function resolveBeatFencing(option: BeatFencing | undefined, bus: Bus): BeatFencing {
  if (option === 'server' && !(bus instanceof NatsBus)) {
    throw new InvalidArgumentError(
      'beat-fencing',
      "'server' needs a NATS bus with JetStream (the in-memory bus has no beat stream)",
    );
  }
  return option ?? (bus instanceof NatsBus ? 'server' : 'sender');
}

/**
 * Builds the sink, publisher and scheduler, and starts the schedule.
 * @throws when the beat stream cannot be made (`server` fencing)
 */
export async function startSlotEmitter(s: SlotEmitterSetup): Promise<SlotEmitter> {
  const { events } = s;
  const sink: BeatSink =
    s.fencing === 'server' && s.bus instanceof NatsBus
      ? await ServerFencedSink.open(s.bus, s.clusterId, s.replicas, s.clock, s.quorumTerm, {
          onRefused: events.onRefused,
          onNotStored: () => events.onSkip('not_stored'),
          onStored: s.beatStored,
          onError: events.onWarning,
          onFallback: events.onFallback,
        })
      : new DirectSink(s.bus, s.clusterId);
  const publisher = new SlotPublisher({
    bus: s.bus,
    clusterId: s.clusterId,
    hlc: s.hlc,
    clock: s.clock,
    map: s.map,
    term: s.term,
    sink,
    events: {
      onPublished: events.onPublished,
      onSkip: (reason) => events.onSkip(reason),
      onStalled: events.onStalled,
      onPublishError: (err, pos) =>
        events.onWarning(`could not publish the BeatFrame of beat ${pos.beatIndex}: ${err.message}`),
    },
  });
  const scheduler = new BeatScheduler({
    clock: s.clock,
    map: () => publisher.map,
    onSlot: (e) => publisher.fire(e.pos, e.firedAt),
    onArm: (pos) => publisher.arm(pos),
    onSkip: (e) => publisher.skipStale(e.pos),
    onError: (err) => events.onWarning(`a beat slot failed; the scheduler goes on: ${err.message}`),
    staleAfterMs: s.staleAfterMs,
    precise: s.precise,
    wait: s.wait,
  });
  scheduler.start();
  return {
    setMap: (m) => publisher.setMap(m),
    setFloor: (f) => publisher.setFloor(f),
    reset: () => publisher.reset(),
    stop: () => {
      scheduler.stop();
      sink.reset(); // ends a direct fallback and its probes
    },
  };
}
