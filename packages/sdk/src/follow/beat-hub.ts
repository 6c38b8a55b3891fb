/**
 * One beat subscription, one KV watch and one {@link FrameGate} per (bus, cluster), shared by
 * every client on that bus: a frame is parsed and checked once, then handed to each client's
 * follower. A process hosting many agents on one connection (`backbeat agent --count 1000`)
 * neither parses each frame a thousand times nor opens a thousand KV watchers.
 */
import type { Clock } from '@backbeat/core';
import { defaultValidator, TERM_HEADER } from '@backbeat/contracts';
import { subjects, type Bus, type Subscription } from '@backbeat/transport';
import { watchCluster, type ClusterWatch } from './cluster-watch.js';
import { FrameGate } from './frame-gate.js';

/** Smallest lead a frame may have over its slot, ms (see FrameGateOptions.aheadMs). */
const MIN_AHEAD_MS = 2;

interface Hub {
  readonly gate: FrameGate;
  readonly reporters: Set<(message: string, log: boolean) => void>;
  readonly ready: Promise<void>;
  sub?: Subscription;
  watch?: ClusterWatch;
  members: number;
}

/** A client's membership of a hub. */
export interface HubMembership {
  readonly gate: FrameGate;
  /** Leaves the hub; the last member out closes the subscription and the watch. */
  leave(): void;
}

const hubs = new WeakMap<Bus, Map<string, Hub>>();

/**
 * Joins (or opens) the hub of `clusterId` on `bus`. KV problems are reported to every
 * member's `report`, with `log` true for one member only. The gate's `aheadMs` is the
 * tolerance of the client that opened the hub: clients sharing a bus share one gate.
 */
export async function joinBeatHub(
  bus: Bus,
  clusterId: string,
  clock: Clock,
  toleranceMs: number,
  report: (message: string, log: boolean) => void,
): Promise<HubMembership> {
  let byCluster = hubs.get(bus);
  if (!byCluster) hubs.set(bus, (byCluster = new Map()));
  let hub = byCluster.get(clusterId);
  if (!hub) {
    const reporters = new Set<(message: string, log: boolean) => void>();
    const refresh = (what: 'lease' | 'map') => hub?.watch?.refresh(what);
    // Every member shows a problem in health; only the first logs it (a thousand agents, one line).
    const reportAll = (message: string) => {
      let first = true;
      for (const r of reporters) {
        r(message, first);
        first = false;
      }
    };
    const gate = new FrameGate(clusterId, clock, { aheadMs: Math.max(MIN_AHEAD_MS, toleranceMs), refresh });
    const h: Hub = { gate, reporters, members: 0, ready: Promise.resolve() };
    const open = async () => {
      // The schemas compile on first use (~150 ms): now, not on the first frame's path.
      defaultValidator();
      const watch = watchCluster(bus, clusterId, gate, clock, reportAll);
      h.watch = watch;
      await watch.ready;
      h.sub = bus.subscribe(subjects(clusterId).beat, (m) => {
        const receivedAt = clock.now();
        try {
          gate.offerBytes(m.data, m.headers[TERM_HEADER], receivedAt);
        } catch (err) {
          // No message can crash a client: a check that throws drops the frame and says why.
          reportAll(`frame check failed, frame dropped: ${(err as Error).message}`);
        }
      });
      await bus.flush();
    };
    (h as { ready: Promise<void> }).ready = open().catch((err: unknown) => {
      h.watch?.stop();
      gate.stop();
      byCluster!.delete(clusterId);
      throw err;
    });
    hub = h;
    byCluster.set(clusterId, hub);
  }
  const h = hub;
  h.members++;
  h.reporters.add(report);
  await h.ready;
  let left = false;
  return {
    gate: h.gate,
    leave: () => {
      if (left) return;
      left = true;
      h.reporters.delete(report);
      if (--h.members > 0) return;
      h.sub?.unsubscribe();
      h.watch?.stop();
      h.gate.stop();
      byCluster!.delete(clusterId);
    },
  };
}
