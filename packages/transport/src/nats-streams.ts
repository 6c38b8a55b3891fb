/** Streams and durable pull consumers over JetStream (nats-server 2.9). */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig as NatsStreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { CREATE_TIMEOUT_MS, createOrFind } from './nats-create.js';
import { AckAllBatch } from './nats-ack-batch.js';
import { fromNatsHeaders } from './nats-headers.js';
import { mapNatsError } from './nats-errors.js';
import { RepublishUnchangeableError } from './errors.js';
import { assertReplicasPossible, natsReconcileReplicas, type ReplicaTarget } from './nats-replicas.js';
import type { Consumer, ConsumeOptions, ConsumerState, DurableMsg, StreamConfig } from './stream-types.js';
import { resolveStreamConfig } from './stream-types.js';
import { assertJetStreamName, assertSubject } from './subjects.js';

function isNotFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/**
 * Creates the stream, or updates it to `config` (its replica count too, when given; its
 * republish when given: nats-server 2.10 and newer change it in place, an existing stream
 * without it keeps it otherwise).
 * @throws InvalidArgumentError (bad limits; replicas > 1 on a server that is not clustered)
 * @throws RepublishUnchangeableError when the server (2.9) cannot change the stream's republish
 * @throws ReplicaMismatchError when the server refuses the new replica count
 * @throws TransportError (e.g. overlapping subjects)
 */
export async function natsEnsureStream(
  jsm: JetStreamManager,
  config: StreamConfig,
  server: { readonly clustered: boolean; readonly version?: string | undefined },
  creator: JetStreamManager = jsm,
): Promise<void> {
  const { clustered } = server;
  assertJetStreamName(config.name);
  config.subjects.forEach((s) => assertSubject(s, true));
  const c = resolveStreamConfig(config);
  const target: ReplicaTarget = { kind: 'stream', name: c.name, stream: c.name };
  if (c.replicas !== undefined) assertReplicasPossible(c.replicas, clustered, target);
  const cfg: Partial<NatsStreamConfig> & { name: string } = {
    name: c.name,
    subjects: c.subjects,
    max_age: nanos(c.maxAgeMs),
    max_msgs: c.maxMsgs || -1,
    max_bytes: c.maxBytes || -1,
    max_msg_size: c.maxMsgSize || -1,
    discard: c.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
    duplicate_window: nanos(c.duplicateWindowMs),
    ...(c.republish ? { republish: { src: c.republish.source, dest: c.republish.destination } } : {}),
  };
  const limits = { ...cfg }; // the update of an existing stream: its replica count is reconciled on its own
  const operation = `ensureStream '${c.name}'`;
  try {
    // Short waits (nats-create.ts): a fresh cluster drops some requests; the caller retries.
    try {
      await creator.streams.info(c.name);
    } catch (err) {
      if (!isNotFound(err, JetStreamApiCodes.StreamNotFound)) throw err;
      // A concurrent identical create can swallow this one's answer (nats-create.ts).
      await createOrFind(jsm, c.name, () => creator.streams.add({ ...cfg, num_replicas: c.replicas ?? 1 }));
      return;
    }
    try {
      await creator.streams.update(c.name, limits);
    } catch (err) {
      // nats-server 2.9: "stream configuration update can not change RePublish" (2.10 allows it).
      if (err instanceof JetStreamApiError && /can not change RePublish/i.test(err.message)) {
        throw new RepublishUnchangeableError(c.name, server.version, { cause: err });
      }
      throw err;
    }
    if (c.replicas !== undefined) await natsReconcileReplicas(jsm, target, c.replicas, clustered);
  } catch (err) {
    if (err instanceof RepublishUnchangeableError) throw err;
    throw mapNatsError(err, { operation, timeoutMs: CREATE_TIMEOUT_MS });
  }
}

/** The bus's view of a delivery; with `batch` (AckAll), acks are coalesced and a nak sends the run before it first. */
function toDurableMsg(m: JsMsg, batch: AckAllBatch | undefined): DurableMsg {
  return Object.freeze({
    subject: m.subject,
    data: m.data,
    headers: fromNatsHeaders(m.headers),
    seq: m.seq,
    time: m.time.getTime(),
    deliveryCount: m.info.deliveryCount,
    redelivered: m.redelivered,
    ack: batch ? () => batch.ack(m) : () => m.ack(),
    nak: (delayMs?: number) => {
      batch?.flush();
      m.nak(delayMs);
    },
    term: () => {
      batch?.flush();
      m.term();
    },
  });
}

/**
 * Creates the durable when absent, else updates its ack wait, limits and filter. A durable
 * with another ack policy (which the server cannot change) is re-created to start after its
 * acknowledged floor.
 */
async function ensureDurable(jsm: JetStreamManager, options: ConsumeOptions): Promise<void> {
  const update: Partial<ConsumerConfig> = {
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    max_ack_pending: options.maxAckPending ?? 1000,
    max_deliver: options.maxDeliver ?? -1,
  };
  const ackPolicy = options.ackPolicy === 'all' ? AckPolicy.All : AckPolicy.Explicit;
  let info: ConsumerInfo | undefined;
  try {
    info = await jsm.consumers.info(options.stream, options.durable);
  } catch (err) {
    if (!isNotFound(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
  let start: Partial<ConsumerConfig> =
    options.startTime !== undefined
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(options.startTime).toISOString() }
      : { deliver_policy: options.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All };
  if (info && info.config.ack_policy !== ackPolicy) {
    // Same position, new policy: everything after the acknowledged floor is delivered again.
    await jsm.consumers.delete(options.stream, options.durable);
    start = { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.ack_floor.stream_seq + 1 };
    info = undefined;
  }
  const existing = info?.config;
  if (!existing) {
    await jsm.consumers.add(options.stream, {
      ...update,
      durable_name: options.durable,
      ack_policy: ackPolicy,
      ...start,
      ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
    });
    return;
  }
  const filterChanged = (existing.filter_subject ?? '') !== (options.filterSubject ?? '');
  const changed =
    filterChanged ||
    existing.ack_wait !== update.ack_wait ||
    existing.max_ack_pending !== update.max_ack_pending ||
    (existing.max_deliver ?? -1) !== update.max_deliver;
  if (changed) {
    await jsm.consumers.update(options.stream, options.durable, {
      ...update,
      ...(filterChanged ? { filter_subject: options.filterSubject ?? '' } : {}),
    });
  }
}

/**
 * Starts a durable pull consumer, creating the durable when absent; handles one message at a
 * time. A handler that throws gets its message nak'ed and the error reported.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsConsume(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: ConsumeOptions,
  handler: (msg: DurableMsg) => void | Promise<void>,
  reportError: (err: unknown) => void,
): Promise<Consumer> {
  assertJetStreamName(options.durable);
  if (options.filterSubject !== undefined) assertSubject(options.filterSubject, true);
  const operation = `consume '${options.stream}' as '${options.durable}'`;
  let messages: Awaited<ReturnType<Awaited<ReturnType<JetStreamClient['consumers']['get']>>['consume']>>;
  const batch = options.ackPolicy === 'all' ? new AckAllBatch() : undefined;
  try {
    await ensureDurable(jsm, options);
    const consumer = await js.consumers.get(options.stream, options.durable);
    // A small buffer: ack wait runs from delivery to this client, not from the handler's turn
    // (larger for AckAll, whose point is throughput). Short pulls: after stop() a pull still
    // open on the server can take messages that then wait out ackWait, so keep that window
    // at seconds.
    messages = await consumer.consume({
      max_messages: Math.min(batch ? 1000 : 100, options.maxAckPending ?? 1000),
      expires: 5000,
    });
  } catch (err) {
    throw mapNatsError(err, { operation, stream: { kind: 'stream', name: options.stream } });
  }
  let stopping = false;
  const loop = (async () => {
    try {
      for await (const m of messages) {
        if (stopping) {
          batch?.flush();
          m.nak(); // buffered but not handled: let the next consumer have it at once
          continue;
        }
        try {
          await handler(toDurableMsg(m, batch));
        } catch (err) {
          batch?.flush();
          m.nak();
          reportError(err);
        }
      }
    } catch (err) {
      reportError(mapNatsError(err, { operation }));
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await messages.close();
      await loop;
      batch?.close();
    },
  };
}

/**
 * The consumers of a stream with their pending counts.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsListConsumers(jsm: JetStreamManager, stream: string): Promise<ConsumerState[]> {
  try {
    const out: ConsumerState[] = [];
    for await (const c of jsm.consumers.list(stream)) {
      out.push({
        name: c.name,
        durable: Boolean(c.config.durable_name),
        pending: c.num_pending,
        ackPending: c.num_ack_pending,
        waiting: c.num_waiting,
        deliveredSeq: c.delivered.stream_seq,
      });
    }
    return out;
  } catch (err) {
    throw mapNatsError(err, { operation: `listConsumers '${stream}'`, stream: { kind: 'stream', name: stream } });
  }
}

/**
 * Deletes a consumer; false when none has that name.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsDeleteConsumer(jsm: JetStreamManager, stream: string, name: string): Promise<boolean> {
  assertJetStreamName(name);
  try {
    return await jsm.consumers.delete(stream, name);
  } catch (err) {
    if (isNotFound(err, JetStreamApiCodes.ConsumerNotFound)) return false;
    throw mapNatsError(err, {
      operation: `deleteConsumer '${stream}' '${name}'`,
      stream: { kind: 'stream', name: stream },
    });
  }
}
