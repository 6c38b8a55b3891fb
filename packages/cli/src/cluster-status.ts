/**
 * What a cluster looks like now, read from NATS alone: the lease (leader and term, docs/spec.md §7
 * Election, terms and fencing), the state bucket (tempo map, pending change), the presence bucket
 * (pulse nodes, reverb replicas), the NATS server(s) and the replicas of every bucket and stream.
 * One reader for `backbeat status` and the dashboard's cluster panel.
 */
import { checkTempoMap, tempoAt, type TempoMap } from '@backbeat/core';
import {
  clusterNames,
  decodeJson,
  decodeLeaseRecord,
  dlqStreamConfig,
  JetStreamNotFoundError,
  NatsBus,
  readPresence,
  reportStreamConfig,
  STATE_KEYS,
  statusStreamConfig,
  type Bus,
  type KvBucket,
  type PresenceRecord,
} from '@backbeat/transport';
import { ClusterNotFoundError } from './errors.js';

/** The leader as the lease record in KV says (never a frame header, docs/spec.md §7 Election, terms and fencing). */
export interface LeaderView {
  readonly node_id: string;
  readonly term: number;
  /** When this leadership began (RFC 3339). */
  readonly since: string;
  /** When the lease was last written (a renewal), RFC 3339. */
  readonly renewed_at: string;
}

/** A pulse node or reverb replica, from its presence entry. */
export interface NodeView {
  readonly kind: 'pulse' | 'reverb';
  readonly node_id: string;
  /** 'leader' or 'follower' for pulse nodes, 'replica' for reverb. */
  readonly role: string;
  readonly host: string;
  readonly pid: number;
  readonly started_at: string;
  readonly updated_at: string;
  readonly info: Readonly<Record<string, unknown>>;
}

/** A NATS server the cluster's data lives on. */
export interface ServerView {
  readonly name: string;
  /** True for the server this client is connected to. */
  readonly connected: boolean;
  readonly version?: string;
  readonly url?: string;
}

/** A KV bucket or stream and where its copies are. */
export interface StoreView {
  readonly kind: 'bucket' | 'stream';
  readonly name: string;
  /** Configured copies; null when it does not exist. */
  readonly replicas: number | null;
  readonly leader?: string;
  /** Servers holding a copy besides the leader. */
  readonly peers?: readonly string[];
  readonly messages?: number;
  readonly ttl_ms?: number;
}

/** The whole picture. */
export interface ClusterStatus {
  readonly cluster_id: string;
  readonly read_at: string;
  readonly leader: LeaderView | null;
  /** Why the lease value could not be read, when it could not. */
  readonly lease_error?: string;
  readonly tempo: {
    readonly bpm: number | null;
    readonly bar_length: number | null;
    readonly pending: {
      readonly tempo_bpm: number;
      readonly effective_beat?: number;
      readonly effective_at?: string;
      readonly requested_by?: string;
      readonly justification?: string;
    } | null;
  };
  readonly pulse_nodes: readonly NodeView[];
  readonly reverb_replicas: readonly NodeView[];
  readonly servers: readonly ServerView[];
  readonly stores: readonly StoreView[];
}

/**
 * Checks that NATS holds cluster `clusterId` (its state bucket exists).
 * @throws ClusterNotFoundError when it does not
 */
export async function assertClusterExists(bus: Bus, clusterId: string, where: string): Promise<void> {
  if (!(await openExisting(bus, clusterNames(clusterId).stateBucket))) throw new ClusterNotFoundError(clusterId, where);
}

/**
 * Reads the status of cluster `clusterId` from `bus`.
 * @throws ClusterNotFoundError when NATS holds no state bucket for the cluster
 */
export async function readClusterStatus(
  bus: Bus,
  clusterId: string,
  where: string,
  now = Date.now(),
): Promise<ClusterStatus> {
  const names = clusterNames(clusterId);
  const state = await openExisting(bus, names.stateBucket);
  if (!state) throw new ClusterNotFoundError(clusterId, where);
  const lease = await openExisting(bus, names.leaseBucket);
  const [leaseEntry, mapEntry, pendingEntry, presence] = await Promise.all([
    lease ? lease.get(STATE_KEYS.leader) : null,
    state.get(STATE_KEYS.tempoMap),
    state.get(STATE_KEYS.tempoPending),
    readPresence(bus, clusterId).catch((err: unknown) =>
      err instanceof JetStreamNotFoundError ? [] : Promise.reject(err),
    ),
  ]);
  let leader: LeaderView | null = null;
  let leaseError: string | undefined;
  if (leaseEntry) {
    try {
      const r = decodeLeaseRecord(leaseEntry.value);
      leader = {
        node_id: r.node_id,
        term: r.term,
        since: r.acquired_at,
        renewed_at: new Date(leaseEntry.created).toISOString(),
      };
    } catch (err) {
      leaseError = (err as Error).message;
    }
  }
  let map: TempoMap | null = null;
  try {
    map = mapEntry ? checkTempoMap(decodeJson(mapEntry.value)) : null;
  } catch {
    map = null;
  }
  let pending: ClusterStatus['tempo']['pending'] = null;
  try {
    pending = pendingEntry ? decodeJson(pendingEntry.value) : null;
  } catch {
    pending = null;
  }
  const nodes = presence.map((p) => nodeView(p, leader?.node_id ?? null));
  return {
    cluster_id: clusterId,
    read_at: new Date(now).toISOString(),
    leader,
    ...(leaseError ? { lease_error: leaseError } : {}),
    tempo: { bpm: map ? tempoAt(map, now) : null, bar_length: map?.barLength ?? null, pending },
    pulse_nodes: nodes.filter((n) => n.kind === 'pulse'),
    reverb_replicas: nodes.filter((n) => n.kind === 'reverb'),
    ...(await natsView(bus, clusterId, [state, lease])),
  };
}

function nodeView(p: PresenceRecord, leaderId: string | null): NodeView {
  const role =
    p.kind === 'reverb'
      ? 'replica'
      : typeof p.info.role === 'string'
        ? p.info.role
        : p.node_id === leaderId
          ? 'leader'
          : 'follower';
  return {
    kind: p.kind,
    node_id: p.node_id,
    role,
    host: p.host,
    pid: p.pid,
    started_at: p.started_at,
    updated_at: p.updated_at,
    info: p.info,
  };
}

async function openExisting(bus: Bus, name: string): Promise<KvBucket | null> {
  try {
    return await bus.kv(name, { create: false });
  } catch (err) {
    if (err instanceof JetStreamNotFoundError) return null;
    throw err;
  }
}

async function natsView(
  bus: Bus,
  clusterId: string,
  buckets: Array<KvBucket | null>,
): Promise<{ servers: ServerView[]; stores: StoreView[] }> {
  const names = clusterNames(clusterId);
  const presence = await openExisting(bus, names.presenceBucket);
  const stores: StoreView[] = [];
  for (const b of [...buckets, presence]) {
    if (!b) continue;
    const s = await b.settings();
    stores.push({ kind: 'bucket', name: b.name, replicas: s.replicas, ...(s.ttlMs ? { ttl_ms: s.ttlMs } : {}) });
  }
  if (!(bus instanceof NatsBus)) {
    return { servers: [{ name: 'in-memory bus', connected: true }], stores };
  }
  const info = bus.nc.info;
  const jsm = await bus.jsm();
  for (const s of stores) {
    const si = await jsm.streams.info(`KV_${s.name}`).catch(() => null);
    if (si?.cluster) Object.assign(s, clusterOf(si.cluster), { messages: si.state.messages });
  }
  for (const name of [
    statusStreamConfig(clusterId).name,
    reportStreamConfig(clusterId).name,
    dlqStreamConfig(clusterId).name,
  ]) {
    const si = await jsm.streams.info(name).catch(() => null);
    stores.push(
      si
        ? {
            kind: 'stream',
            name,
            replicas: si.config.num_replicas,
            messages: si.state.messages,
            ...(si.cluster ? clusterOf(si.cluster) : {}),
          }
        : { kind: 'stream', name, replicas: null },
    );
  }
  // The JetStream servers by name, from where the copies are; else the URLs the server gossips.
  const servers = new Map<string, ServerView>();
  if (info)
    servers.set(info.server_name, {
      name: info.server_name,
      connected: true,
      version: info.version,
      url: `${info.host}:${info.port}`,
    });
  const peers = stores.flatMap((x) => [x.leader, ...(x.peers ?? [])]).filter((n): n is string => typeof n === 'string');
  if (peers.length > 0) for (const n of peers) if (!servers.has(n)) servers.set(n, { name: n, connected: false });
  if (peers.length === 0)
    for (const u of info?.connect_urls ?? [])
      if (![...servers.values()].some((v) => v.url === u)) servers.set(u, { name: u, connected: false, url: u });
  return { servers: [...servers.values()], stores };
}

function clusterOf(c: { leader?: string; replicas?: Array<{ name: string }> }): { leader?: string; peers: string[] } {
  return { ...(c.leader ? { leader: c.leader } : {}), peers: (c.replicas ?? []).map((r) => r.name) };
}
