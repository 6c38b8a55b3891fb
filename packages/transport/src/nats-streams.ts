/** Streams, durable pull consumers and history reads over JetStream. */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig as NatsStreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Consumer, ConsumeOptions, DurableMsg, ReadStreamOptions, StoredMsg, StreamConfig } from './bus.js';
import { fromNatsHeaders } from './nats-bus.js';
import { assertJetStreamName, assertSubject } from './subjects.js';

/** Creates the stream, or updates it to `config`. */
export async function natsEnsureStream(jsm: JetStreamManager, config: StreamConfig): Promise<void> {
  assertJetStreamName(config.name);
  config.subjects.forEach((s) => assertSubject(s, true));
  const cfg: Partial<NatsStreamConfig> & { name: string } = {
    name: config.name,
    subjects: config.subjects,
    max_age: nanos(config.maxAgeMs ?? 0),
    max_msgs: config.maxMsgs || -1,
    max_bytes: config.maxBytes || -1,
    duplicate_window: nanos(config.duplicateWindowMs ?? 120_000),
  };
  try {
    await jsm.streams.info(config.name);
  } catch {
    await jsm.streams.add(cfg);
    return;
  }
  await jsm.streams.update(config.name, cfg);
}

function toDurableMsg(m: JsMsg): DurableMsg {
  return {
    subject: m.subject,
    data: m.data,
    headers: fromNatsHeaders(m.headers),
    seq: m.seq,
    time: Math.floor(m.info.timestampNanos / 1e6),
    deliveryCount: m.info.deliveryCount,
    redelivered: m.redelivered,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    term: () => m.term(),
  };
}

/** Starts a durable pull consumer, creating the durable when absent. */
export async function natsConsume(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: ConsumeOptions,
  handler: (msg: DurableMsg) => void | Promise<void>,
): Promise<Consumer> {
  const config = {
    durable_name: options.durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    max_ack_pending: options.maxAckPending ?? 1000,
    deliver_policy: options.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(options.stream, options.durable);
    await jsm.consumers.update(options.stream, options.durable, {
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
      ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
    });
  } catch {
    await jsm.consumers.add(options.stream, config);
  }
  const consumer = await js.consumers.get(options.stream, options.durable);
  const messages = await consumer.consume({ max_messages: Math.min(1000, config.max_ack_pending) });
  const loop = (async () => {
    for await (const m of messages) {
      const msg = toDurableMsg(m);
      try {
        await handler(msg);
      } catch {
        m.nak();
      }
    }
  })();
  return {
    stop: async () => {
      await messages.close();
      await loop;
    },
  };
}

/** Reads stored messages with a short-lived ordered consumer. */
export async function natsReadStream(js: JetStreamClient, jsm: JetStreamManager, options: ReadStreamOptions): Promise<StoredMsg[]> {
  const limit = options.limit ?? 100;
  if (limit <= 0) return [];
  const info = await jsm.streams.info(options.stream, options.subject ? { subjects_filter: options.subject } : undefined);
  const { first_seq: first, last_seq: last, messages: count } = info.state;
  if (count === 0) return [];
  const start = Math.max(first, options.fromSeq ?? first);
  if (start > last) return [];
  if (options.fromTime !== undefined) {
    // Start by time on the server, then keep the sequence bound as well.
    const byTime = await readRange(js, options, start, last, options.last ? Infinity : limit, new Date(options.fromTime).toISOString());
    return (options.last ? byTime.slice(-limit) : byTime).filter((m) => m.seq >= start);
  }
  if (options.last) {
    // Without a filter the last `limit` sequences are the answer; with one, read and keep the tail.
    const from = options.subject ? start : Math.max(start, last - limit + 1);
    return (await readRange(js, options, from, last)).slice(-limit);
  }
  return readRange(js, options, start, last, limit);
}

async function readRange(js: JetStreamClient, options: ReadStreamOptions, from: number, to: number, limit = Infinity, fromTime?: string): Promise<StoredMsg[]> {
  const consumer = await js.consumers.get(options.stream, {
    ...(fromTime ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: fromTime } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from }),
    ...(options.subject ? { filter_subjects: options.subject } : {}),
  });
  const out: StoredMsg[] = [];
  try {
    while (out.length < limit) {
      const want = Math.min(256, limit - out.length);
      const batch = await consumer.fetch({ max_messages: want, expires: 1000 });
      let got = 0;
      let done = false;
      for await (const m of batch) {
        got++;
        if (m.seq <= to) {
          out.push({ subject: m.subject, data: m.data, headers: fromNatsHeaders(m.headers), seq: m.seq, time: Math.floor(m.info.timestampNanos / 1e6) });
        }
        // Stop at the end of the range instead of waiting for the fetch to expire.
        if (m.seq >= to || out.length >= limit) {
          done = true;
          break;
        }
      }
      if (done || got === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
  return out;
}
