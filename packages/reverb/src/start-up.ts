/**
 * The I/O of a replica's start that holds no ledger decision (docs/spec.md §9 Reverb): the
 * claim, report and dead-letter streams ensured with one replica count (the report stream with
 * the server's republish of each stored report on the broadcast subject), the durable claim
 * consumer opened, the presence entry started, and the one warning about the signature mode.
 */
import {
  assertServerVersion,
  clusterNames,
  dlqStreamConfig,
  ensureStreamReplicated,
  reportStreamConfig,
  RepublishUnchangeableError,
  resolveReplicas,
  retryTransient,
  startPresence,
  statusStreamConfig,
  type Bus,
  type Consumer,
  type DurableMsg,
  type ReplicaMismatchError,
  type StreamConfig,
} from '@backbeat/transport';
import type { ResolvedReverbOptions } from './options.js';
import type { TrustStore } from './trust.js';

type Options = ResolvedReverbOptions & { readonly bus: Bus };

/** What {@link ensureReverbStreams} found. */
export interface ReverbStreams {
  readonly replicas: number;
  readonly statusStream: string;
  /**
   * True when the server republishes each stored report on the broadcast subject. False only
   * for a report stream made before that, on a nats-server (2.9) that cannot add it in place:
   * then the replica whose copy is stored broadcasts it (docs/spec.md §9 Reverb).
   */
  readonly serverBroadcasts: boolean;
}

/** Ensures the streams reverb owns; returns their replica count, the claim stream's name and who broadcasts reports. */
export async function ensureReverbStreams(o: Options): Promise<ReverbStreams> {
  const { bus, clusterId, logger, clock } = o;
  // Reverb owns the claim, report and dead-letter streams, each with the same replica count
  // (docs/decisions/0001-replicated-state.md).
  const replicas = await resolveReplicas(bus, o.replicas);
  assertServerVersion(bus, replicas, logger);
  const onMismatch = (e: ReplicaMismatchError) => logger.warn({ code: e.code, ...e.context }, e.message);
  const ensure = (config: StreamConfig) =>
    retryTransient(() => ensureStreamReplicated(bus, config, onMismatch), {
      what: `ensuring stream ${config.name}`,
      clock,
      logger,
    });
  await ensure(statusStreamConfig(clusterId, { replicas, maxBytes: o.claimStreamMaxBytes }));
  const reports = reportStreamConfig(clusterId, { replicas });
  let serverBroadcasts = true;
  try {
    await ensure(reports);
  } catch (err) {
    if (!(err instanceof RepublishUnchangeableError)) throw err;
    // docs/spec.md §9 Reverb: an old report stream on nats-server 2.9 keeps working, broadcast by its builders.
    logger.warn(
      { code: err.code, ...err.context },
      `${err.message}; until then each replica broadcasts the reports it stored`,
    );
    const { republish: _unchangeable, ...rest } = reports;
    await ensure(rest);
    serverBroadcasts = false;
  }
  await ensure(dlqStreamConfig(clusterId, { replicas }));
  return { replicas, statusStream: clusterNames(clusterId).statusStream, serverBroadcasts };
}

/** Reads the claim stream's sequences, retrying transient failures. */
export function claimStreamState(o: Options, stream: string): ReturnType<Bus['streamState']> {
  const { bus, clock, logger } = o;
  return retryTransient(() => bus.streamState(stream), { what: `reading stream ${stream}`, clock, logger });
}

/**
 * Opens the replica's durable consumer: from `startTime` when it is new (else only new
 * claims), or where an existing one stopped.
 */
export function openConsumer(
  bus: Bus,
  stream: string,
  durable: string,
  startTime: number | undefined,
  handler: (msg: DurableMsg) => void,
): Promise<Consumer> {
  return bus.consume(
    // AckAll: claims are counted (then acked) in delivery order, and every claim is settled
    // by the handler (counted, or dead-lettered with its reason), never nak'ed.
    {
      stream,
      durable,
      ackPolicy: 'all',
      ackWaitMs: 30_000,
      maxAckPending: 20_000,
      ...(startTime !== undefined ? { startTime } : { deliverPolicy: 'new' }),
    },
    handler,
  );
}

/** Announces the replica in the presence bucket; undefined (logged) when it cannot. */
export async function startReverbPresence(
  o: Options,
  replicas: number,
  info: () => Record<string, unknown>,
): Promise<{ stop(): Promise<void> } | undefined> {
  const { bus, clusterId, nodeId, clock, logger } = o;
  try {
    return await startPresence(bus, clusterId, { kind: 'reverb', nodeId, host: o.host, clock, logger, replicas, info });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not announce this replica in the presence bucket');
    return undefined;
  }
}

/** docs/spec.md §10 Security: said once, so an operator knows what the signature mode lets through. */
export function warnSignatureMode(o: Options, trust: TrustStore | undefined): void {
  if (o.signatures === 'require') return;
  const how = o.signatures === 'off' ? 'signed or not' : 'unsigned';
  o.logger.warn(
    { signatures: o.signatures, trusted_agents: trust?.size ?? 0 },
    `claims from agents not in the trust file are accepted ${how}: any login that may publish ` +
      'claims can speak for them (agents in the trust file are always verified)',
  );
}
