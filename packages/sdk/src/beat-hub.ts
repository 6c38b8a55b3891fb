/**
 * One subscription per (bus, cluster) for every client on that bus: a frame is parsed and
 * validated once, then handed to each client. A process hosting many agents on one
 * connection (`backbeat agent --count 1000`) does not parse each frame a thousand times.
 */
import { parseBeatFrame, parseTermHeader, TERM_HEADER, type BeatFrame, type ContractError } from '@backbeat/contracts';
import { subjects, type Bus, type Subscription } from '@backbeat/transport';

/** What a client receives from the hub. */
export interface HubListener {
  frame(frame: BeatFrame, term: number, receivedAt: number): void;
  invalid(error: ContractError): void;
}

interface Hub {
  readonly sub: Subscription;
  readonly listeners: Set<HubListener>;
}

const hubs = new WeakMap<Bus, Map<string, Hub>>();

/** Registers `listener` for the cluster's frames on `bus`; returns the unregister function. */
export function joinBeatHub(bus: Bus, clusterId: string, now: () => number, listener: HubListener): () => void {
  let byCluster = hubs.get(bus);
  if (!byCluster) hubs.set(bus, (byCluster = new Map()));
  let hub = byCluster.get(clusterId);
  if (!hub) {
    const listeners = new Set<HubListener>();
    const sub = bus.subscribe(subjects(clusterId).beat, (m) => {
      const receivedAt = now();
      const r = parseBeatFrame(m.data);
      const term = parseTermHeader(m.headers[TERM_HEADER]) ?? 0;
      for (const l of listeners) {
        if (r.ok) l.frame(r.message, term, receivedAt);
        else l.invalid(r.error);
      }
    });
    hub = { sub, listeners };
    byCluster.set(clusterId, hub);
  }
  const h = hub;
  h.listeners.add(listener);
  return () => {
    h.listeners.delete(listener);
    if (h.listeners.size === 0) {
      h.sub.unsubscribe();
      byCluster!.delete(clusterId);
    }
  };
}
