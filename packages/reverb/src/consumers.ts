/**
 * Reverb's durable consumers on the claim stream: the stable name of a replica's consumer,
 * and the listing and pruning of orphans (`backbeat reverb --list-consumers` and
 * `--prune-consumers`).
 */
import { clusterNames, readPresence, type Bus, type ConsumerState, type PresenceRecord } from '@backbeat/transport';

/** Prefix of every reverb durable consumer. */
export const CONSUMER_PREFIX = 'reverb_';

/** The durable consumer of replica `nodeId`: `reverb_<nodeId>`. */
export function consumerName(nodeId: string): string {
  return `${CONSUMER_PREFIX}${nodeId}`;
}

/** One durable consumer of the claim stream, with the verdict on it. */
export interface ReverbConsumer extends ConsumerState {
  /** The replica it belongs to (the name without `reverb_`), for reverb consumers. */
  readonly nodeId: string | undefined;
  /** True when no running replica owns it: it is safe to delete. */
  readonly orphaned: boolean;
  /** Why it is (or is not) orphaned, in words. */
  readonly why: string;
}

/**
 * Decides which consumers are orphaned: a reverb durable (`reverb_*`) with no client pulling
 * from it (no waiting pull request) and no live presence entry of a reverb naming it.
 * Other durables are listed and never called orphaned. Pure.
 */
export function classifyConsumers(
  consumers: readonly ConsumerState[],
  presence: readonly PresenceRecord[],
): ReverbConsumer[] {
  const live = new Set(
    presence.filter((p) => p.kind === 'reverb').map((p) => String(p.info.consumer ?? consumerName(p.node_id))),
  );
  return consumers
    .filter((c) => c.durable)
    .map((c) => {
      const ours = c.name.startsWith(CONSUMER_PREFIX);
      const nodeId = ours ? c.name.slice(CONSUMER_PREFIX.length) : undefined;
      let why: string;
      if (!ours) why = 'not a reverb consumer';
      else if (live.has(c.name)) why = 'its replica is running (presence entry)';
      else if (c.waiting > 0) why = 'a client is pulling from it';
      else why = 'no running replica owns it';
      return { ...c, nodeId, orphaned: ours && !live.has(c.name) && c.waiting === 0, why };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The cluster's durable consumers on the claim stream, orphans marked. @throws JetStreamNotFoundError */
export async function listReverbConsumers(bus: Bus, clusterId: string): Promise<ReverbConsumer[]> {
  const consumers = await bus.listConsumers(clusterNames(clusterId).statusStream);
  const presence = await readPresence(bus, clusterId).catch(() => [] as PresenceRecord[]);
  return classifyConsumers(consumers, presence);
}

/** Deletes the orphaned reverb consumers; returns their names. @throws JetStreamNotFoundError */
export async function pruneReverbConsumers(bus: Bus, clusterId: string): Promise<string[]> {
  const stream = clusterNames(clusterId).statusStream;
  const deleted: string[] = [];
  for (const c of await listReverbConsumers(bus, clusterId)) {
    if (c.orphaned && (await bus.deleteConsumer(stream, c.name))) deleted.push(c.name);
  }
  return deleted;
}
