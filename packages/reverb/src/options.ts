/** Reverb options: documented, defaulted, validated and frozen. */
import { availableParallelism, hostname } from 'node:os';
import {
  DEFAULT_CLUSTER_ID,
  InvalidArgumentError,
  systemClock,
  silentLogger,
  type Clock,
  type Logger,
} from '@backbeat/core';
import {
  assertClusterId,
  checkReplicaSetting,
  CLAIM_MAX_BYTES,
  CLAIM_STREAM_MAX_BYTES,
  type Bus,
  type ReplicaSetting,
} from '@backbeat/transport';
import type { Registry } from 'prom-client';
import type { TrustStore } from './trust.js';

/** How signatures are treated (docs/spec.md §10 Security). */
export const SIGNATURE_MODES = ['off', 'verify', 'require'] as const;
/** One signature mode. */
export type SignatureMode = (typeof SIGNATURE_MODES)[number];

export { DEFAULT_BAR_LENGTH, DEFAULT_CLUSTER_ID } from '@backbeat/core';

/** Options of {@link Reverb}. */
export interface ReverbOptions {
  bus: Bus;
  /** @default DEFAULT_CLUSTER_ID ('chorus-aus-01') */
  clusterId?: string;
  /**
   * Names this replica's durable consumer (`reverb_<nodeId>`): keep it stable across
   * restarts. @default defaultReverbNodeId(clusterId): host name plus cluster, never random
   */
  nodeId?: string;
  /** Beats per bar; learned from the pulse's tempo map when not given. */
  barLength?: number;
  /**
   * How claims of agents not in the trust file are treated (docs/spec.md §10 Security): off
   * accepts them, verify accepts them unsigned and checks a signature they carry, require
   * refuses them. An agent in the trust file is always verified, in every mode. @default 'verify'
   */
  signatures?: SignatureMode;
  /** Trusted agent keys (required by verify and require to accept signed claims). */
  trust?: TrustStore;
  /** Windows are dropped this long after their last update, once reported. @default 300000 */
  windowTtlMs?: number;
  /**
   * At most this many reported windows are kept (oldest dropped first); a window whose report
   * is not stored yet is never dropped. @default 100
   */
  maxWindows?: number;
  /** Claims naming a beat more than this many bars ahead of the beat they were stored at are replays. @default 2 */
  replayBars?: number;
  /**
   * A claim stored up to this long after its beat is a late claim (counted in its bar, or as
   * `late_claims` once the bar is reported), not a replay: SDK clients queue claims through a
   * NATS outage and send them when it ends. Beyond it (and never less than replayBars) it is
   * refused as a replay. @default 120000 (the claim stream's duplicate window)
   */
  maxClaimDelayMs?: number;
  /** Largest claim accepted, in bytes. @default 65536 (CLAIM_MAX_BYTES) */
  maxClaimBytes?: number;
  /**
   * Byte limit of the claim stream reverb creates or updates (discard policy `new`: a full
   * stream refuses new claims, which the SDK reports as failed). @default 1 GiB
   */
  claimStreamMaxBytes?: number;
  /**
   * After a restart every missed bar whose claims the claim stream still holds is rebuilt, in
   * order, however many; older bars (they can only be empty) at most this many back from the
   * current bar. @default 1000
   */
  catchUpBars?: number;
  /**
   * Bytes a direct read of the claim stream (the rebuild at start, a catch-up before a report)
   * holds at once, at most: pages are sized so that even claims of the largest size the claim
   * stream stores stay within it. @default 33554432 (32 MiB)
   */
  readBytes?: number;
  /** A report whose store failed is tried again after this long. @default 1000 */
  retryMs?: number;
  /**
   * Before a report is built, the claim consumer gets this long to deliver every claim the
   * stream holds; then the stream is read directly (a consumer stalled by a NATS fault).
   * @default 500
   */
  catchUpWaitMs?: number;
  /**
   * Copies of the claim, report and dead-letter streams and of the presence bucket
   * (docs/decisions/0001-replicated-state.md): 1 to 5, or 'auto' = min(3, the JetStream servers the connection sees).
   * @default 'auto'
   */
  replicas?: ReplicaSetting;
  /**
   * Threads that check claim signatures (Ed25519, the costliest step by far); 0 checks them
   * on the main thread. Started at the first signed claim. @default os.availableParallelism()
   */
  verifyThreads?: number;
  /** Host name announced in presence and used by the default node id. @default os.hostname() */
  host?: string;
  clock?: Clock;
  logger?: Logger;
  registry?: Registry;
}

/** Options after defaults and checks (all but the bus, which the service keeps as given). */
export type ResolvedReverbOptions = Readonly<
  Required<Omit<ReverbOptions, 'bus' | 'barLength' | 'trust' | 'registry'>>
> & {
  readonly barLength: number | undefined;
  readonly trust: TrustStore | undefined;
  readonly registry: Registry | undefined;
};

/**
 * The stable default node id: `<host>-<cluster>` with anything but letters, digits, `_` and
 * `-` replaced by `_`, at most 64 characters. The same machine and cluster give the same
 * durable consumer after every restart.
 */
export function defaultReverbNodeId(clusterId: string, host: string = hostname()): string {
  return `${host}-${clusterId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/** @throws InvalidArgumentError unless an integer from 0 to 64 */
function threads(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > 64)
    throw new InvalidArgumentError('verify-threads', `must be an integer from 0 to 64, got ${v}`);
  return v;
}

/**
 * Applies defaults and checks every option but the bus (so a CLI can check flags before it
 * connects). @throws InvalidArgumentError naming the field and the rule
 */
export function resolveReverbOptions(o: Omit<ReverbOptions, 'bus'>): ResolvedReverbOptions {
  const clusterId = o.clusterId ?? DEFAULT_CLUSTER_ID;
  assertClusterId(clusterId);
  const signatures = o.signatures ?? 'verify';
  if (!SIGNATURE_MODES.includes(signatures))
    throw new InvalidArgumentError('signatures', `must be one of ${SIGNATURE_MODES.join(', ')}, got '${signatures}'`);
  const host = o.host ?? hostname();
  const nodeId = o.nodeId || defaultReverbNodeId(clusterId, host);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId))
    throw new InvalidArgumentError(
      'node-id',
      `'${nodeId}' must be 1 to 64 letters, digits, _ or - (it names a durable consumer)`,
    );
  const positive = (field: string, v: number, min: number) => {
    if (!Number.isFinite(v) || v < min) throw new InvalidArgumentError(field, `must be a number >= ${min}, got ${v}`);
    return v;
  };
  if (o.barLength !== undefined && (!Number.isSafeInteger(o.barLength) || o.barLength < 1))
    throw new InvalidArgumentError('bar-length', `must be an integer >= 1, got ${o.barLength}`);
  return Object.freeze({
    clusterId,
    nodeId,
    barLength: o.barLength,
    signatures,
    trust: o.trust,
    windowTtlMs: positive('window-ttl', o.windowTtlMs ?? 300_000, 1000),
    maxWindows: positive('max-windows', o.maxWindows ?? 100, 2),
    replayBars: positive('replay-bars', o.replayBars ?? 2, 1),
    maxClaimDelayMs: positive('max-claim-delay', o.maxClaimDelayMs ?? 120_000, 0),
    maxClaimBytes: positive('max-claim-bytes', o.maxClaimBytes ?? CLAIM_MAX_BYTES, 256),
    claimStreamMaxBytes: positive(
      'claim-stream-max-bytes',
      o.claimStreamMaxBytes ?? CLAIM_STREAM_MAX_BYTES,
      1024 * 1024,
    ),
    catchUpBars: positive('catch-up-bars', o.catchUpBars ?? 1000, 1),
    readBytes: positive('read-bytes', o.readBytes ?? 32 * 1024 * 1024, 1024 * 1024),
    retryMs: positive('retry-ms', o.retryMs ?? 1000, 10),
    catchUpWaitMs: positive('catch-up-wait', o.catchUpWaitMs ?? 500, 0),
    replicas: checkReplicaSetting(o.replicas ?? 'auto'),
    verifyThreads: threads(o.verifyThreads ?? availableParallelism()),
    host,
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
    registry: o.registry,
  });
}
