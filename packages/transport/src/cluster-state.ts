/**
 * Where a cluster's shared state lives in KV (docs/spec.md §3 Subjects and shared state), and its
 * encoding. The pulse writes it; followers, reverb and tools read it.
 */
import { checkTempoMap, type TempoMap } from '@backbeat/core';
import type { Bus } from './bus.js';
import type { KvBucket } from './kv-types.js';
import { supportsLimitMarkers } from './server-version.js';
import { withReplicaFallback, type ReplicaOptions } from './replicas.js';
import type { StreamConfig } from './stream-types.js';
import { clusterNames, subjects } from './subjects.js';

/** Keys of the state bucket and the lease bucket. */
export const STATE_KEYS = {
  /** The tempo map (state bucket). */
  tempoMap: 'tempo-map',
  /** A tempo change waiting for its downbeat (state bucket). */
  tempoPending: 'tempo-pending',
  /** The leader lease (lease bucket, expires by the bucket TTL). */
  leader: 'leader',
} as const;

/**
 * The leader lease's value (lease bucket, key `leader`). The pulse writes it; SDK clients,
 * pulse followers and tools read the legitimate term from it, never from a frame header
 * (docs/spec.md §7 Election, terms and fencing). Writers may add fields; readers ignore what they
 * do not know.
 */
export interface LeaseRecord {
  /** Node holding the lease. */
  readonly node_id: string;
  /** Leadership term: counts leaderships (1, 2, 3 ...), strictly growing; the fencing token. */
  readonly term: number;
  /** When this leadership began (RFC 3339). */
  readonly acquired_at: string;
}

/** Why a lease value was refused. */
export class LeaseRecordError extends Error {
  override readonly name = 'LeaseRecordError';
}

/**
 * The lease record in `bytes`, checked: a JSON object with a non-empty string `node_id`
 * (at most 256 characters), an integer `term` >= 1 and a string `acquired_at`. The one gate
 * for lease values on every path (get, watch).
 * @throws LeaseRecordError naming the field and the rule
 */
export function decodeLeaseRecord(bytes: Uint8Array): LeaseRecord {
  let v: unknown;
  try {
    v = decodeJson(bytes);
  } catch (err) {
    throw new LeaseRecordError(`lease value is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new LeaseRecordError('lease value must be a JSON object');
  const r = v as Record<string, unknown>;
  if (typeof r.node_id !== 'string' || r.node_id.length === 0 || r.node_id.length > 256)
    throw new LeaseRecordError('lease node_id must be a string of 1 to 256 characters');
  if (typeof r.term !== 'number' || !Number.isSafeInteger(r.term) || r.term < 1)
    throw new LeaseRecordError('lease term must be an integer >= 1');
  if (typeof r.acquired_at !== 'string') throw new LeaseRecordError('lease acquired_at must be a string');
  return r as unknown as LeaseRecord;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** JSON bytes of a value. */
export function encodeJson(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

/** Value of JSON bytes. @throws SyntaxError */
export function decodeJson<T = unknown>(bytes: Uint8Array): T {
  return JSON.parse(dec.decode(bytes)) as T;
}

/**
 * Opens the cluster's state bucket (no expiry), creating it when absent, with `replicas`
 * copies when given (see {@link ReplicaOptions}).
 */
export function openStateBucket(bus: Bus, clusterId: string, options: ReplicaOptions = {}): Promise<KvBucket> {
  const name = clusterNames(clusterId).stateBucket;
  return withReplicaFallback(options, (replicas) =>
    bus.kv(name, { history: 1, ...(replicas === undefined ? {} : { replicas }) }),
  );
}

/** Options of {@link openLeaseBucket}. */
export interface LeaseBucketOptions extends ReplicaOptions {
  /**
   * The lease TTL: the bucket-level TTL (docs/spec.md §7 Election, terms and fencing and §12 Known
   * pitfalls). Only applies when the bucket is created.
   */
  readonly ttlMs: number;
  /** Limit markers where the server has them (2.11.7+; the in-memory bus has them). @default true */
  readonly markers?: boolean;
}

/**
 * Opens the cluster's lease bucket (key `leader`, expiring by the bucket TTL), creating it
 * when absent, with `replicas` copies when given. A lease on one node stops the beat when
 * that node dies: on a cluster, use 3 (docs/decisions/0001-replicated-state.md).
 */
export function openLeaseBucket(bus: Bus, clusterId: string, options: LeaseBucketOptions): Promise<KvBucket> {
  const name = clusterNames(clusterId).leaseBucket;
  // Limit markers where the server has them: every replica agrees on the lease's expiry, and a
  // standby's watcher sees it and takes the lease at once (docs/spec.md §7 Election, terms and fencing).
  const markers =
    options.markers !== false && (bus.kind === 'memory' || supportsLimitMarkers(bus))
      ? { markerTtlMs: Math.max(1000, options.ttlMs) }
      : {};
  return withReplicaFallback(options, (replicas) =>
    bus.kv(name, { ttlMs: options.ttlMs, history: 1, ...markers, ...(replicas === undefined ? {} : { replicas }) }),
  );
}

/** The tempo map and its revision, or null when no pulse has created one yet. */
export async function readTempoMap(state: KvBucket): Promise<{ map: TempoMap; revision: number } | null> {
  const e = await state.get(STATE_KEYS.tempoMap);
  return e ? { map: checkTempoMap(decodeJson(e.value)), revision: e.revision } : null;
}

/** Largest claim payload the SDK sends and reverb counts, bytes (docs/spec.md §10 Security). */
export const CLAIM_MAX_BYTES = 65_536;
/** Room for a claim's headers above CLAIM_MAX_BYTES in the claim stream's per-message limit. */
export const CLAIM_HEADER_ALLOWANCE = 4096;
/** Default byte limit of the claim stream (1 GiB). */
export const CLAIM_STREAM_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * The stream capturing a cluster's StatusClaims (docs/spec.md §3 Subjects and shared state):
 * kept a day, at most 5M messages and `maxBytes` bytes, each message at most CLAIM_MAX_BYTES
 * plus its headers; a full stream refuses new claims (discard `new`) rather than dropping
 * claims reverb may not have read. With `replicas`, the count to create it with or bring it
 * to (ensure it with {@link ensureStreamReplicated}).
 */
export function statusStreamConfig(
  clusterId: string,
  options: { replicas?: number; maxBytes?: number } = {},
): StreamConfig {
  return {
    ...replicasOf(options),
    name: clusterNames(clusterId).statusStream,
    subjects: [subjects(clusterId).status],
    maxAgeMs: 24 * 60 * 60 * 1000,
    maxMsgs: 5_000_000,
    maxBytes: options.maxBytes ?? CLAIM_STREAM_MAX_BYTES,
    maxMsgSize: CLAIM_MAX_BYTES + CLAIM_HEADER_ALLOWANCE,
    discard: 'new',
    duplicateWindowMs: 120_000,
  };
}

/**
 * The stream keeping a cluster's BarReports, de-duplicated by window id (docs/spec.md §9 Reverb),
 * which the server republishes on `backbeat.C.reverb` as it stores each one: the broadcast of
 * every stored report, whoever stored it. `replicas` as above.
 */
export function reportStreamConfig(clusterId: string, options: { replicas?: number } = {}): StreamConfig {
  const s = subjects(clusterId);
  return {
    ...replicasOf(options),
    name: clusterNames(clusterId).reportStream,
    subjects: [s.reportStore],
    maxAgeMs: 30 * 24 * 60 * 60 * 1000,
    maxMsgs: 1_000_000,
    duplicateWindowMs: 10 * 60 * 1000,
    republish: { source: s.reportStore, destination: s.reverb },
  };
}

function replicasOf(options: { replicas?: number }): { replicas?: number } {
  return options.replicas === undefined ? {} : { replicas: options.replicas };
}

/**
 * The stream keeping a cluster's dead letters (`backbeat.C.dlq`: messages that failed
 * validation, the reason in the `x-reason` header), so `backbeat dlq` and the dashboard can
 * list them after the fact. Reverb ensures it; a week or 100,000 letters, whichever is less.
 */
export function dlqStreamConfig(clusterId: string, options: { replicas?: number } = {}): StreamConfig {
  return {
    name: `BACKBEAT_${clusterId}_DLQ`,
    subjects: [subjects(clusterId).dlq],
    maxAgeMs: 7 * 24 * 60 * 60 * 1000,
    maxMsgs: 100_000,
    maxBytes: 256 * 1024 * 1024,
    ...replicasOf(options),
  };
}
