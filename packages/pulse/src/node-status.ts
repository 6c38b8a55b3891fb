/**
 * What a pulse node reports about itself: the snapshot every status view reads (status-views.ts:
 * GET /tempo, /leader, /drift, /health, /ready), the gauges read at each scrape, and the entry it
 * announces in the presence bucket. Taken from the node's parts as they are at that instant.
 */
import type { StreamPlacement } from './lease/stream-placement.js';
import { hostname } from 'node:os';
import { tempoAt } from '@backbeat/core';
import { startPresence, type Presence } from '@backbeat/transport';
import type { PulseGaugeReadings } from './metrics.js';
import type { PulseOptions, ResolvedPulseOptions } from './options.js';
import { DriftTracker } from './drift.js';
import type { FrameObserver } from './emit/frame-observer.js';
import type { ClockCheck } from './lease/clock-check.js';
import type { LeaderElector } from './lease/leader-elector.js';
import * as views from './status-views.js';
import type { NodeTempo } from './tempo/node-tempo.js';

/** The parts of a pulse node the views read; each is absent until the node started it. */
export interface NodeParts {
  tempo?: NodeTempo;
  observer?: FrameObserver;
  elector?: LeaderElector;
  clockCheck?: ClockCheck;
  /** Stream placement (KV lease on replicated buckets only). */
  placement?: StreamPlacement | undefined;
  /** The lease bucket's TTL (null without a KV lease). */
  leaseTtlMs: number | null;
}

type NodeOptions = ResolvedPulseOptions & { readonly bus: PulseOptions['bus'] };

/** The node's state at this instant, the input of every view. */
export function nodeSnapshot(
  o: NodeOptions,
  state: views.ServiceState,
  p: NodeParts,
  canPublish: boolean,
): views.PulseSnapshot {
  return {
    state,
    nodeId: o.nodeId,
    clusterId: o.clusterId,
    now: o.clock.now(),
    map: p.tempo?.map ?? null,
    pending: p.tempo?.pending ?? null,
    leadership: p.elector?.leadership() ?? { isLeader: false, term: 0, leaderId: null },
    canPublish,
    connected: o.bus.status().connected,
    clock: p.clockCheck?.status() ?? null,
    peerOffsetMs: p.observer?.peerOffsetMs ?? null,
    leaseTtlMs: p.leaseTtlMs,
    minBpm: o.minBpm,
    maxBpm: o.maxBpm,
    lastFrameAt: p.observer?.drift.lastFrameAt,
  };
}

/** GET /drift (REQ-003): the grid's drift as the node's observer measured it, with the clock checks. */
export function nodeDrift(s: views.PulseSnapshot, p: NodeParts): views.PulseDriftReport {
  return views.driftView(s, (p.observer?.drift ?? new DriftTracker()).report(views.isDegraded(s)));
}

/** The node's entry in the presence bucket: role, term, leader, last renewal, clock offset, admin address. */
export function presenceInfo(s: views.PulseSnapshot, adminUrl: string | undefined): Record<string, unknown> {
  const { role, term, leader, last_renewal } = views.leaderStatus(s);
  return { role, term, leader, last_renewal, clock_offset_ms: s.clock?.offsetMs ?? null, admin: adminUrl ?? null };
}

/** The gauges read at each scrape: tempo in force and whether this node may publish now, term, clock offsets. */
export function gaugeReadings(o: NodeOptions, p: NodeParts, canPublish: () => boolean): PulseGaugeReadings {
  return {
    tempoBpm: () => (p.tempo?.map ? tempoAt(p.tempo.map, o.clock.now()) : null),
    isLeader: canPublish,
    term: () => p.elector?.leadership().term ?? 0,
    clockOffsetMs: () => ({ nats: p.clockCheck?.status().offsetMs ?? null, peers: p.observer?.peerOffsetMs ?? null }),
  };
}

/** Announces the node in the presence bucket; a failure is one warning (the node runs without an entry). */
export async function announce(
  o: NodeOptions,
  replicas: number,
  info: () => Record<string, unknown>,
): Promise<Presence | undefined> {
  const { bus, clusterId, nodeId, clock, logger } = o;
  try {
    return await startPresence(bus, clusterId, {
      kind: 'pulse',
      nodeId,
      host: hostname(),
      clock,
      logger,
      replicas,
      info,
    });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not announce this node in the presence bucket');
    return undefined;
  }
}
