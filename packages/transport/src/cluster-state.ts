/**
 * Where a cluster's shared state lives in KV (SPEC 4 and 6), and its encoding. The pulse
 * writes it; followers, reverb and tools read it.
 */
import { checkTempoMap, type TempoMap } from '@backbeat/core';
import type { Bus } from './bus.js';
import type { KvBucket } from './kv-types.js';
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

/** Opens the cluster's state bucket (no expiry). */
export function openStateBucket(bus: Bus, clusterId: string): Promise<KvBucket> {
  return bus.kv(clusterNames(clusterId).stateBucket, { history: 1 });
}

/** The tempo map and its revision, or null when no pulse has created one yet. */
export async function readTempoMap(state: KvBucket): Promise<{ map: TempoMap; revision: number } | null> {
  const e = await state.get(STATE_KEYS.tempoMap);
  return e ? { map: checkTempoMap(decodeJson(e.value)), revision: e.revision } : null;
}

/** The stream capturing a cluster's StatusClaims (SPEC 8): the SDK and reverb both ensure it. */
export function statusStreamConfig(clusterId: string): StreamConfig {
  return {
    name: clusterNames(clusterId).statusStream,
    subjects: [subjects(clusterId).status],
    maxAgeMs: 24 * 60 * 60 * 1000,
    maxMsgs: 5_000_000,
    duplicateWindowMs: 120_000,
  };
}

/** The stream keeping a cluster's BarReports, de-duplicated by window id (SPEC 8). */
export function reportStreamConfig(clusterId: string): StreamConfig {
  return {
    name: clusterNames(clusterId).reportStream,
    subjects: [subjects(clusterId).reportStore],
    maxAgeMs: 30 * 24 * 60 * 60 * 1000,
    maxMsgs: 1_000_000,
    duplicateWindowMs: 10 * 60 * 1000,
  };
}
