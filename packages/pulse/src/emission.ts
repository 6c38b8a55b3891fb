/**
 * Where the emission path runs (docs/decisions/0003-emitter-thread.md): in a worker thread with its
 * own NATS connection when the node has connection settings for it (NATS bus, real clock), else in
 * this thread (the in-memory bus, `backbeat dev`, tests on a fake clock). Both run the same
 * scheduler and FramePublisher; the worker publishes only while the shared fence is open.
 */
import { beatDurationMs, systemClock, type Clock, type Hlc, type Logger, type SlotKey, type TempoMap } from '@backbeat/core';
import type { Bus, NatsConfig } from '@backbeat/transport';
import { FramePublisher, type PublishedFrame, type SkipReason } from './frame-publisher.js';
import { BeatScheduler } from './scheduler.js';
import type { SharedFence } from './shared-fence.js';
import { WorkerEmitter, type EmitterLoad } from './worker-emitter.js';

/** A running emission path. */
export interface Emission {
  /** 'worker' when a thread of its own runs it. */
  readonly where: 'worker' | 'inline';
  setMap(map: TempoMap): void;
  setFloor(floor: SlotKey): void;
  remoteHlc(hlc: string): void;
  /** The node stopped leading: forget what was in flight. */
  reset(): void;
  /** The emitter thread's event-loop load, or null in-thread. */
  utilization(): EmitterLoad | null;
  stop(): Promise<void>;
}

/** What the emission path needs from its node. */
export interface EmissionContext {
  readonly bus: Bus;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly hlc: Hlc;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly precise: boolean;
  readonly staleAfterMs: number | undefined;
  readonly emitterNats: NatsConfig | undefined;
  readonly map: () => TempoMap | null;
  /** In-thread fence: the term this node may publish under at `now`, or 0. */
  readonly term: (now: number) => number;
  readonly floor: () => SlotKey | undefined;
  /** The fence the worker reads; kept by the node. */
  readonly fence: SharedFence;
  readonly onPublished: (f: PublishedFrame) => void;
  readonly onSkip: (reason: SkipReason) => void;
  readonly onStalled: (ms: number) => void;
  /** The emitter thread ended by itself. */
  readonly onLost: () => void;
}

/** Stale bound of a map: half a phase at its fastest tempo, at most 250 ms. */
function staleAfter(ctx: EmissionContext, map: TempoMap): number {
  return ctx.staleAfterMs ?? Math.min(beatDurationMs(Math.max(...map.segments.map((s) => s.tempoBpm))) / map.phases.length / 2, 250);
}

/** Starts the emission path on `map`. */
export async function startEmission(ctx: EmissionContext, map: TempoMap): Promise<Emission> {
  if (ctx.emitterNats && ctx.bus.kind === 'nats' && ctx.clock === systemClock) {
    const w = await WorkerEmitter.start(
      { nats: ctx.emitterNats, clusterId: ctx.clusterId, nodeId: ctx.nodeId, fence: ctx.fence, map, staleAfterMs: staleAfter(ctx, map), precise: ctx.precise },
      {
        onPublished: ctx.onPublished,
        onSkip: ctx.onSkip,
        onStalled: ctx.onStalled,
        onError: (message) => ctx.logger.warn({}, message),
        onExit: (code) => {
          ctx.logger.error({ code }, 'the emitter thread ended');
          ctx.onLost();
        },
      },
    );
    return { where: 'worker', setMap: (m) => w.setMap(m), setFloor: (f) => w.setFloor(f), remoteHlc: (h) => w.remoteHlc(h), reset: () => w.reset(), utilization: () => w.utilization(), stop: () => w.stop() };
  }
  const publisher = new FramePublisher({
    bus: ctx.bus,
    clusterId: ctx.clusterId,
    hlc: ctx.hlc,
    clock: ctx.clock,
    map: ctx.map,
    term: ctx.term,
    floor: ctx.floor,
    onPublished: ctx.onPublished,
    onSkip: ctx.onSkip,
    onStalled: ctx.onStalled,
    onPublishError: (err, pos) => ctx.logger.warn({ err: err.message, beat: pos.beatIndex }, 'could not publish a BeatFrame'),
  });
  const scheduler = new BeatScheduler({
    clock: ctx.clock,
    map: () => ctx.map() ?? map,
    onSlot: (e) => publisher.fire(e.pos, e.firedAt),
    onArm: (pos) => publisher.arm(pos),
    onSkip: (e) => publisher.skipStale(e.pos),
    onError: (err) => ctx.logger.error({ err: err.message }, 'a beat slot failed; the scheduler goes on'),
    staleAfterMs: staleAfter(ctx, map),
    precise: ctx.precise,
  });
  scheduler.start();
  return {
    where: 'inline',
    setMap: () => {}, // the scheduler reads ctx.map() at every slot
    setFloor: () => {}, // and the publisher ctx.floor()
    remoteHlc: () => {}, // the node's own HLC already took it
    reset: () => publisher.reset(),
    utilization: () => null,
    stop: async () => scheduler.stop(),
  };
}
