/**
 * How many copies of each bucket and stream the project keeps
 * (docs/decisions/0001-replicated-state.md). Services take a setting, `auto` or a number
 * (`--replicas N|auto`, `BACKBEAT_REPLICAS`), resolve it once against the bus they are handed, and
 * pass the number to every bucket and stream they open.
 *
 * ```ts
 * const replicas = await resolveReplicas(bus, parseReplicaSetting(process.env.BACKBEAT_REPLICAS ?? 'auto'));
 * const state = await openStateBucket(bus, clusterId, { replicas, onMismatch: (e) => log.warn(e.message) });
 * await ensureStreamReplicated(bus, statusStreamConfig(clusterId, { replicas }), (e) => log.warn(e.message));
 * ```
 */
import { InvalidArgumentError } from '@backbeat/core';
import type { Bus } from './bus.js';
import { ReplicaMismatchError } from './errors.js';
import { NatsBus } from './nats-bus.js';
import { assertReplicas, MAX_REPLICAS } from './replica-count.js';
import type { StreamConfig } from './stream-types.js';

/** A replica setting: `auto`, or a fixed count from 1 to 5. */
export type ReplicaSetting = 'auto' | number;

/** Most copies `auto` picks: three survive the loss of any one node with a quorum left. */
export const AUTO_REPLICAS_MAX = 3;

/**
 * Reads a replica setting from a flag or an environment variable: `auto` (any case) or an
 * integer from 1 to 5.
 * @throws InvalidArgumentError naming `field` and the rule
 */
export function parseReplicaSetting(text: string, field = 'replicas'): ReplicaSetting {
  const t = text.trim();
  if (t.toLowerCase() === 'auto') return 'auto';
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS)
    throw new InvalidArgumentError(field, `must be 'auto' or an integer from 1 to ${MAX_REPLICAS}, got '${text}'`);
  return n;
}

/**
 * Checks a replica setting given through an API: `auto` or an integer from 1 to 5.
 * @throws InvalidArgumentError naming `field` and the rule
 */
export function checkReplicaSetting(setting: ReplicaSetting, field = 'replicas'): ReplicaSetting {
  if (setting !== 'auto') assertReplicas(setting, field);
  return setting;
}

/**
 * The replica count for a setting on this bus. A number is checked and returned. `auto` is
 * min(3, the JetStream servers the connection sees): on a NatsBus, the servers of the cluster
 * the server announces in its INFO (`connect_urls`, kept current as nodes come and go, so a
 * node that is down at that moment is not counted: start services with every node up, or set
 * the count); 1 on a server that is not clustered and on the in-memory bus.
 * @throws InvalidArgumentError for a number out of range
 */
export async function resolveReplicas(bus: Bus, setting: ReplicaSetting): Promise<number> {
  if (setting !== 'auto') {
    assertReplicas(setting);
    return setting;
  }
  if (!(bus instanceof NatsBus)) return 1;
  return Math.min(AUTO_REPLICAS_MAX, bus.serversSeen);
}

/** Options of the helpers that open the project's buckets. */
export interface ReplicaOptions {
  /** Copies to keep (see {@link resolveReplicas}). Absent: 1 when created, an existing count is kept. */
  readonly replicas?: number;
  /**
   * Called once when an existing bucket or stream has another count and the server cannot
   * change it: the open then goes on with the count it has (log the message: it says what
   * differs and how to fix it). Absent: the ReplicaMismatchError is thrown.
   */
  readonly onMismatch?: (err: ReplicaMismatchError) => void;
}

/**
 * Runs `open(replicas)`; on a ReplicaMismatchError hands it to `onMismatch` and opens again
 * keeping the existing count. Without `onMismatch` the error is thrown.
 */
export async function withReplicaFallback<T>(
  options: ReplicaOptions,
  open: (replicas: number | undefined) => Promise<T>,
): Promise<T> {
  try {
    return await open(options.replicas);
  } catch (err) {
    if (!(err instanceof ReplicaMismatchError) || !options.onMismatch || options.replicas === undefined) throw err;
    options.onMismatch(err);
    return open(undefined);
  }
}

/**
 * `bus.ensureStream(config)`; when the stream's replica count cannot be changed, reports the
 * error to `onMismatch` and ensures the rest of the configuration with the count it has.
 * @throws ReplicaMismatchError without `onMismatch`; what ensureStream throws otherwise
 */
export function ensureStreamReplicated(
  bus: Bus,
  config: StreamConfig,
  onMismatch?: (err: ReplicaMismatchError) => void,
): Promise<void> {
  return withReplicaFallback({ replicas: config.replicas, onMismatch }, (replicas) => {
    const { replicas: _asked, ...rest } = config;
    return bus.ensureStream(replicas === undefined ? rest : { ...rest, replicas });
  });
}
