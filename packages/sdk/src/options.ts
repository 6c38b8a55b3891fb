/** Client options: documented, defaulted, validated and frozen. */
import type { KeyObject } from 'node:crypto';
import { InvalidArgumentError, systemClock, silentLogger, type Clock, type Logger } from '@backbeat/core';
import { validateStatusClaim } from '@backbeat/contracts';
import { assertClusterId, type Bus, type NatsConfig } from '@backbeat/transport';
import type { Registry } from 'prom-client';
import { toSigningKey } from './claims/signing.js';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The cluster to follow (a subject token). */
  clusterId: string;
  /** This agent's id: `service:instance` or `agent:identifier` (INT-B). */
  agentId: string;
  /** NATS URL or connection options; ignored when `bus` is given. @default 'nats://127.0.0.1:4222' */
  nats?: string | NatsConfig;
  /** An existing bus (a shared NatsBus, or MemoryBus in `backbeat dev`); the client will not close it. */
  bus?: Bus;
  /** Ed25519 key to sign claims with (BACKBEAT-REQ-044): a private KeyObject or its 32-byte seed. */
  signingKey?: KeyObject | Uint8Array;
  /** How late a frame may be before the client fires the slot itself. @default 50 */
  jitterToleranceMs?: number;
  /**
   * How callbacks are timed: 'frames' fires on the leader's frame (and locally when it is
   * late); 'grid' fires every slot from the tempo map at its instant and lets the leader's
   * frames confirm it. @default 'frames'
   */
  timing?: 'grid' | 'frames';
  /** Grid timing falls back to frames while this clock is further than this from the leader's, ms. @default 20 */
  maxClockOffsetMs?: number;
  /** Wait between NATS reconnect attempts. @default 1000 */
  reconnectDelayMs?: number;
  /** NATS reconnect attempts, -1 for unlimited. @default -1 */
  maxReconnects?: number;
  /** Claims kept while disconnected; more are refused with ClaimQueueFullError. @default 1000 */
  maxQueuedClaims?: number;
  /**
   * How long JetStream may answer "no responders" to a claim before it counts as "no stream"
   * and fails: a stream that elects a leader or a node that restarts answers the same for a few
   * seconds (4 to 9 s measured on nats-server 2.9). @default 15000
   */
  noStreamGraceMs?: number;
  logger?: Logger;
  clock?: Clock;
  /** prom-client registry for the backbeat_sdk_* metrics (none by default). */
  registry?: Registry;
}

/** Options after defaults and checks. */
export interface ResolvedClientOptions {
  readonly clusterId: string;
  readonly agentId: string;
  readonly nats: NatsConfig;
  readonly bus: Bus | undefined;
  readonly signingKey: KeyObject | undefined;
  readonly jitterToleranceMs: number;
  readonly maxQueuedClaims: number;
  readonly noStreamGraceMs: number;
  readonly timing: 'grid' | 'frames';
  readonly maxClockOffsetMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: Registry | undefined;
}

/**
 * Checks an agent id against the INT-B contract.
 * @throws InvalidArgumentError with the contract's rule
 */
export function assertAgentId(agentId: string): void {
  const probe = validateStatusClaim({
    type: 'backbeat.statusclaim.v1',
    agent_id: agentId,
    beat_index: 0,
    state: 'idle',
    hlc: '0000:0000:0000',
  });
  if (!probe.valid) {
    const rule = probe.errors.map((e) => e.message).join('; ');
    throw new InvalidArgumentError(
      'agentId',
      `'${agentId}' is not a valid agent id (service:instance or agent:identifier): ${rule}`,
    );
  }
}

/** Applies defaults and checks every option. @throws InvalidArgumentError */
export function resolveClientOptions(o: ClientOptions): ResolvedClientOptions {
  assertClusterId(o.clusterId);
  assertAgentId(o.agentId);
  const tol = o.jitterToleranceMs ?? 50;
  if (!Number.isFinite(tol) || tol < 0 || tol > 60_000)
    throw new InvalidArgumentError('jitterToleranceMs', `must be from 0 to 60000, got ${tol}`);
  const nonNegative = (field: string, v: number) => {
    if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(field, `must be a number of ms >= 0, got ${v}`);
    return v;
  };
  const maxQueued = o.maxQueuedClaims ?? 1000;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 0)
    throw new InvalidArgumentError('maxQueuedClaims', `must be an integer >= 0, got ${maxQueued}`);
  const timing = o.timing ?? 'frames';
  if (timing !== 'grid' && timing !== 'frames')
    throw new InvalidArgumentError('timing', `must be 'grid' or 'frames', got '${String(timing)}'`);
  const maxOffset = o.maxClockOffsetMs ?? 20;
  if (!Number.isFinite(maxOffset) || maxOffset <= 0 || maxOffset > 60_000)
    throw new InvalidArgumentError('maxClockOffsetMs', `must be above 0 and at most 60000, got ${maxOffset}`);
  const base: NatsConfig =
    typeof o.nats === 'string' || o.nats === undefined ? { servers: o.nats ?? 'nats://127.0.0.1:4222' } : o.nats;
  return Object.freeze({
    clusterId: o.clusterId,
    agentId: o.agentId,
    nats: {
      name: `backbeat-sdk ${o.agentId}`,
      ...base,
      reconnectTimeWaitMs: o.reconnectDelayMs ?? base.reconnectTimeWaitMs ?? 1000,
      maxReconnectAttempts: o.maxReconnects ?? base.maxReconnectAttempts ?? -1,
    },
    bus: o.bus,
    signingKey: o.signingKey === undefined ? undefined : toSigningKey(o.signingKey),
    jitterToleranceMs: tol,
    maxQueuedClaims: maxQueued,
    noStreamGraceMs: nonNegative('noStreamGraceMs', o.noStreamGraceMs ?? 15_000),
    timing,
    maxClockOffsetMs: maxOffset,
    logger: o.logger ?? silentLogger,
    clock: o.clock ?? systemClock,
    registry: o.registry,
  });
}
