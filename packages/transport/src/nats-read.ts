/**
 * History reads over JetStream: a short-lived ephemeral pull consumer (no acks, in memory)
 * whose `num_pending` says exactly how many matching messages lie ahead, so a read never
 * waits for a fetch to expire. "Last n" widens a window back from the end of the stream.
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamClient, type JetStreamManager, type MsgRequest } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { fromNatsHeaders } from './nats-headers.js';
import { mapNatsError } from './nats-errors.js';
import type { ReadStreamOptions, StoredMsg, StreamMsgQuery, StreamState } from './stream-types.js';
import { resolveReadLimit } from './stream-types.js';
import { assertSubject } from './subjects.js';

type Start = { seq: number } | { time: number };

/** A reader positioned at `start`; `pending` matching messages lie ahead of it. */
async function openReader(jsm: JetStreamManager, stream: string, start: Start, subject?: string): Promise<{ name: string; pending: number }> {
  const config: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: nanos(30_000),
    ...('seq' in start
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.seq }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(start.time).toISOString() }),
    ...(subject ? { filter_subject: subject } : {}),
  };
  const info = await jsm.consumers.add(stream, config);
  return { name: info.name, pending: info.num_pending };
}

/** Reads `count` messages from a reader, then deletes it. */
async function drain(js: JetStreamClient, jsm: JetStreamManager, stream: string, reader: { name: string }, count: number): Promise<StoredMsg[]> {
  const out: StoredMsg[] = [];
  try {
    const consumer = await js.consumers.get(stream, reader.name);
    while (out.length < count) {
      const batch = await consumer.fetch({ max_messages: Math.min(256, count - out.length), expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        out.push({ subject: m.subject, data: m.data, headers: fromNatsHeaders(m.headers), seq: m.seq, time: m.time.getTime() });
      }
      if (got === 0) break; // messages removed by limits meanwhile
    }
  } finally {
    await jsm.consumers.delete(stream, reader.name).catch(() => {});
  }
  return out;
}

/**
 * The last `limit` matching messages at or after `lowest`: widen a window back from the end
 * until it holds `limit`, then binary-search the start where exactly `limit` lie ahead, so
 * only those are transferred.
 */
async function readLast(js: JetStreamClient, jsm: JetStreamManager, options: ReadStreamOptions, lowest: number, last: number, limit: number): Promise<StoredMsg[]> {
  const { stream, subject } = options;
  const discard = (r: { name: string }) => jsm.consumers.delete(stream, r.name).catch(() => false);
  let hi = last + 1; // a start with fewer than `limit` ahead
  for (let width = limit; ; width *= 4) {
    const from = Math.max(lowest, last - width + 1);
    const reader = await openReader(jsm, stream, { seq: from }, subject);
    if (reader.pending < limit) {
      if (from === lowest) return drain(js, jsm, stream, reader, reader.pending);
      await discard(reader);
      hi = from;
      continue;
    }
    let best = reader;
    let lo = from;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const probe = await openReader(jsm, stream, { seq: mid }, subject);
      if (probe.pending >= limit) {
        await discard(best);
        best = probe;
        lo = mid;
      } else {
        await discard(probe);
        hi = mid;
      }
    }
    return (await drain(js, jsm, stream, best, limit)).slice(-limit);
  }
}

/**
 * Reads stored messages back, oldest first.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsReadStream(js: JetStreamClient, jsm: JetStreamManager, options: ReadStreamOptions): Promise<StoredMsg[]> {
  const limit = resolveReadLimit(options.limit);
  if (options.subject !== undefined) assertSubject(options.subject, true);
  const { stream, subject } = options;
  try {
    const { first_seq: first, last_seq: last, messages } = (await jsm.streams.info(stream)).state;
    if (messages === 0) return [];
    let lowest = Math.max(first, options.fromSeq ?? 1);
    if (lowest > last) return [];
    if (options.fromTime !== undefined) {
      // Find the first matching message at or after fromTime; windows below start there.
      const probe = await openReader(jsm, stream, { time: options.fromTime }, subject);
      const head = (await drain(js, jsm, stream, probe, Math.min(1, probe.pending)))[0];
      if (!head) return [];
      lowest = Math.max(lowest, head.seq);
    }
    if (!options.last) {
      const reader = await openReader(jsm, stream, { seq: lowest }, subject);
      return drain(js, jsm, stream, reader, Math.min(limit, reader.pending));
    }
    return await readLast(js, jsm, options, lowest, last, limit);
  } catch (err) {
    throw mapNatsError(err, { operation: `readStream '${stream}'`, stream: { kind: 'stream', name: stream } });
  }
}

/**
 * A stream's sequences and message count.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsStreamState(jsm: JetStreamManager, stream: string): Promise<StreamState> {
  try {
    const s = (await jsm.streams.info(stream)).state;
    return { firstSeq: s.messages === 0 ? s.last_seq + 1 : s.first_seq, lastSeq: s.last_seq, messages: s.messages };
  } catch (err) {
    throw mapNatsError(err, { operation: `streamState '${stream}'`, stream: { kind: 'stream', name: stream } });
  }
}

/**
 * One stored message through the stream's MSG.GET API (nats-server 2.9 knows `seq`,
 * `next_by_subj` and `last_by_subj`): no consumer is created.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsGetStreamMsg(jsm: JetStreamManager, stream: string, query: StreamMsgQuery): Promise<StoredMsg | undefined> {
  const q = 'lastBySubject' in query ? { last_by_subj: query.lastBySubject } : query.subject ? { seq: Math.max(1, query.seq), next_by_subj: query.subject } : { seq: Math.max(1, query.seq), next_by_subj: '>' };
  try {
    // next_by_subj is part of the server's MSG.GET request; the client's type only lacks it.
    const m = await jsm.streams.getMessage(stream, q as unknown as MsgRequest);
    return m ? { subject: m.subject, data: m.data, headers: fromNatsHeaders(m.header), seq: m.seq, time: m.time.getTime() } : undefined;
  } catch (err) {
    throw mapNatsError(err, { operation: `getStreamMsg '${stream}'`, stream: { kind: 'stream', name: stream } });
  }
}
