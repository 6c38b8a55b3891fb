/**
 * Where the emitter runs (docs/decisions/0003-emitter-thread.md): in a thread of its own with its
 * own NATS connection when the node has connection settings for it (NATS bus, real clock), else
 * in this thread (the in-memory bus, `backbeat dev`, tests on a fake clock). Both build the same
 * emitter ({@link startSlotEmitter}); the thread publishes only while the shared fence is open.
 */
import {
  beatDurationMs,
  systemClock,
  type Clock,
  type Hlc,
  type Logger,
  type SlotKey,
  type TempoMap,
} from '@backbeat/core';
import type { Bus, NatsConfig } from '@backbeat/transport';
import type { BeatFencing } from './beat-sink.js';
import { EmitterThread, type EmitterLoad } from './emitter-thread.js';
import type { SharedFence } from './shared-fence.js';
import { resolveBeatFencing, startSlotEmitter, type EmitterEvents } from './slot-emitter.js';

/** A running emitter, wherever it runs. */
export interface Emitter {
  /** 'worker' when a thread of its own runs it. */
  readonly where: 'worker' | 'inline';
  /** Who checks the fencing token of its frames. */
  readonly fencing: BeatFencing;
  setMap(map: TempoMap): void;
  setFloor(floor: SlotKey): void;
  remoteHlc(hlc: string): void;
  /** The node stopped leading: forget what was in flight. */
  reset(): void;
  /** The emitter thread's event-loop load, or null in-thread. */
  utilization(): EmitterLoad | null;
  stop(): Promise<void>;
}

/** What the emitter needs from its node. */
export interface EmitterContext extends EmitterEvents {
  readonly bus: Bus;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly hlc: Hlc;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly precise: boolean;
  readonly staleAfterMs: number | undefined;
  /** `--beat-fencing`; undefined: server on NATS, sender on the in-memory bus. */
  readonly beatFencing: BeatFencing | undefined;
  /** Copies of the beat stream: as the cluster's other state. */
  readonly replicas: number;
  readonly emitterNats: NatsConfig | undefined;
  /** In-thread fence: the term this node may publish under at `now`, or 0. */
  readonly term: (now: number) => number;
  /** The fence the emitter thread reads; kept by the node. */
  readonly fence: SharedFence;
  /** The emitter thread ended by itself. */
  readonly onLost: () => void;
}

/** Stale bound of a map: half a phase at its fastest tempo, at most 250 ms. */
function staleAfter(ctx: EmitterContext, map: TempoMap): number {
  const fastest = Math.max(...map.segments.map((s) => s.tempoBpm));
  return ctx.staleAfterMs ?? Math.min(beatDurationMs(fastest) / map.phases.length / 2, 250);
}

/**
 * Starts the emitter on `map`.
 * @throws when it cannot connect or cannot make the beat stream, or for `server` fencing on the in-memory bus
 */
export async function startEmitter(ctx: EmitterContext, map: TempoMap): Promise<Emitter> {
  const fencing = resolveBeatFencing(ctx.beatFencing, ctx.bus);
  const events: EmitterEvents = {
    onPublished: ctx.onPublished,
    onSkip: ctx.onSkip,
    onStalled: ctx.onStalled,
    onRefused: ctx.onRefused,
    onWarning: ctx.onWarning,
    onFallback: ctx.onFallback,
  };
  const common = {
    clusterId: ctx.clusterId,
    map,
    staleAfterMs: staleAfter(ctx, map),
    precise: ctx.precise,
    fencing,
    replicas: ctx.replicas,
  };
  if (ctx.emitterNats && ctx.bus.kind === 'nats' && ctx.clock === systemClock) {
    const t = await EmitterThread.start(
      { ...common, nats: ctx.emitterNats, nodeId: ctx.nodeId, fence: ctx.fence },
      {
        ...events,
        onExit: (code) => {
          ctx.logger.error({ code }, 'the emitter thread ended');
          ctx.onLost();
        },
      },
    );
    return {
      where: 'worker',
      fencing,
      setMap: (m) => t.setMap(m),
      setFloor: (f) => t.setFloor(f),
      remoteHlc: (h) => t.remoteHlc(h),
      reset: () => t.reset(),
      utilization: () => t.utilization(),
      stop: () => t.stop(),
    };
  }
  const e = await startSlotEmitter({
    ...common,
    bus: ctx.bus,
    hlc: ctx.hlc,
    clock: ctx.clock,
    term: ctx.term,
    quorumTerm: (now, sentAfter) => ctx.fence.quorumTerm(now, sentAfter),
    beatStored: (term, sentAt) => ctx.fence.beatStored(term, sentAt),
    wait: 'poll',
    events,
  });
  return {
    where: 'inline',
    fencing,
    setMap: (m) => e.setMap(m),
    setFloor: (f) => e.setFloor(f),
    remoteHlc: () => {}, // the node's own HLC already took it
    reset: () => e.reset(),
    utilization: () => null,
    stop: async () => e.stop(),
  };
}
