/**
 * Presence: every pulse and reverb node announces itself in the cluster's presence bucket
 * (key `<kind>.<node_id>`), refreshed every few seconds, so `backbeat status` and the
 * dashboard can list the nodes of a cluster and what each does. Entries expire by the
 * bucket's TTL when a node dies; a clean stop deletes its entry.
 */
import { systemClock, type Clock, type Logger, silentLogger, type TimerHandle } from '@backbeat/core';
import type { Bus } from './bus.js';
import { decodeJson, encodeJson } from './cluster-state.js';
import type { KvBucket } from './kv-types.js';
import type { ReplicaMismatchError } from './errors.js';
import { withReplicaFallback, type ReplicaOptions } from './replicas.js';
import { retryTransient } from './retry.js';
import { clusterNames } from './subjects.js';

/** Kinds of node that announce themselves. */
export type PresenceKind = 'pulse' | 'reverb';

/** One node's entry in the presence bucket. */
export interface PresenceRecord {
  readonly kind: PresenceKind;
  readonly node_id: string;
  readonly host: string;
  readonly pid: number;
  /** RFC 3339. */
  readonly started_at: string;
  /** RFC 3339: when this entry was last written. */
  readonly updated_at: string;
  /** What the node says of itself (role, term, last renewal, last report, http address ...). */
  readonly info: Readonly<Record<string, unknown>>;
}

/** Age after which a silent node's entry disappears. */
export const PRESENCE_TTL_MS = 15_000;
/** How often a node refreshes its entry. */
export const PRESENCE_EVERY_MS = 5_000;

/** Options of {@link startPresence}. */
export interface PresenceOptions {
  readonly kind: PresenceKind;
  readonly nodeId: string;
  /** Called at each refresh: the node's current view of itself. */
  readonly info: () => Record<string, unknown>;
  /** @default os host name, given by the caller */
  readonly host: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default PRESENCE_EVERY_MS */
  readonly everyMs?: number;
  readonly logger?: Logger;
  /** Copies of the presence bucket (see resolveReplicas); a mismatch the server cannot fix is logged once. */
  readonly replicas?: number;
}

/**
 * Opens (creating when absent, unless `create: false`) the cluster's presence bucket, with `replicas` copies when
 * given.
 */
export function openPresenceBucket(
  bus: Bus,
  clusterId: string,
  options: { create?: boolean } & ReplicaOptions = {},
): Promise<KvBucket> {
  const name = clusterNames(clusterId).presenceBucket;
  return withReplicaFallback(options, (replicas) =>
    bus.kv(name, {
      ttlMs: PRESENCE_TTL_MS,
      history: 1,
      create: options.create ?? true,
      ...(replicas === undefined ? {} : { replicas }),
    }),
  );
}

/** A node's key in the presence bucket. */
export function presenceKey(kind: PresenceKind, nodeId: string): string {
  return `${kind}.${nodeId.replace(/[^-/_=a-zA-Z0-9]/g, '_')}`;
}

/** A node's running announcement. */
export interface Presence {
  /** Writes the entry now (e.g. after a change of leader), then every `everyMs` from then. */
  refresh(): void;
  /** Stops announcing and deletes the entry. */
  stop(): Promise<void>;
}

/**
 * Announces a node now and every `everyMs` until stopped; stop() deletes the entry. A failed
 * write is logged once per outage and retried at the next refresh: presence never stops a node.
 */
export async function startPresence(bus: Bus, clusterId: string, options: PresenceOptions): Promise<Presence> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger;
  const everyMs = options.everyMs ?? PRESENCE_EVERY_MS;
  const key = presenceKey(options.kind, options.nodeId);
  const startedAt = new Date(clock.wallNow()).toISOString();
  // A fresh cluster may time out or answer no one for a moment (docs/spec.md §12 Known
  // pitfalls): retried like the other buckets.
  const onMismatch = (e: ReplicaMismatchError) => log.warn({ code: e.code, ...e.context }, e.message);
  const kv = await retryTransient(
    () => openPresenceBucket(bus, clusterId, { replicas: options.replicas, onMismatch }),
    {
      what: 'opening the presence bucket',
      clock,
      logger: log,
    },
  );
  let timer: TimerHandle | undefined;
  let stopped = false;
  let failing = false;
  let writing: Promise<void> = Promise.resolve();
  const write = async () => {
    const record: PresenceRecord = {
      kind: options.kind,
      node_id: options.nodeId,
      host: options.host,
      pid: process.pid,
      started_at: startedAt,
      updated_at: new Date(clock.wallNow()).toISOString(),
      info: options.info(),
    };
    try {
      await kv.put(key, encodeJson(record));
      failing = false;
    } catch (err) {
      if (!failing) log.warn({ err: (err as Error).message }, 'could not write the presence entry; retrying');
      failing = true;
    }
  };
  // Writes one after the other; each one schedules the next refresh.
  const tick = () => {
    if (stopped) return;
    if (timer) clock.clearTimeout(timer);
    timer = undefined;
    writing = writing.then(write).finally(() => {
      if (stopped) return;
      if (timer) clock.clearTimeout(timer);
      timer = clock.setTimeout(tick, everyMs);
    });
  };
  tick();
  await writing;
  return {
    refresh: tick,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      // A write in flight is not waited for: one sent while the connection was down waits out
      // its request timeout (seconds) after the reconnection, which held shutdowns past their
      // deadline. Should it land after this delete, the entry is deleted again once it settles
      // (and expires with the bucket's TTL if the connection is gone by then).
      await kv.delete(key).catch(() => {});
      void writing.then(() => kv.delete(key)).catch(() => {});
    },
  };
}

/**
 * Every live entry of the cluster's presence bucket, pulse nodes first, then by node id.
 * Entries that are not presence records are left out.
 */
export async function readPresence(bus: Bus, clusterId: string): Promise<PresenceRecord[]> {
  const kv = await openPresenceBucket(bus, clusterId, { create: false });
  const out: PresenceRecord[] = [];
  for (const k of await kv.keys()) {
    const e = await kv.get(k);
    if (!e) continue;
    try {
      const r = decodeJson<PresenceRecord>(e.value);
      if (
        (r.kind === 'pulse' || r.kind === 'reverb') &&
        typeof r.node_id === 'string' &&
        typeof r.info === 'object' &&
        r.info !== null
      )
        out.push(r);
    } catch {
      // not a presence record: left out
    }
  }
  return out.sort((a, b) => (a.kind === b.kind ? a.node_id.localeCompare(b.node_id) : a.kind === 'pulse' ? -1 : 1));
}
