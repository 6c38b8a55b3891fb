/**
 * History reads over JetStream: a short-lived ephemeral pull consumer (no acks, in memory)
 * whose `num_pending` says exactly how many matching messages lie ahead, so a read never
 * waits for a fetch to expire; its messages come in one hand-made pull request. On
 * nats-server 2.9 that beats `limit` pipelined MSG.GET or DIRECT.GET lookups by far (the
 * JetStream API answers them one after another: about 15 and 10 ms for 100, against 3 ms
 * for a reader's create, pull and delete, measured with bench/reverb.mjs's history store).
 * "Last n" widens a window back from the end of the stream.
 */
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerConfig,
  type JetStreamManager,
  type MsgRequest,
} from '@nats-io/jetstream';
import { createInbox, nanos, type NatsConnection } from '@nats-io/transport-node';
import { fromNatsHeaders } from './nats-headers.js';
import { mapNatsError } from './nats-errors.js';
import type { ReadStreamOptions, StoredMsg, StreamMsgQuery, StreamState } from './stream-types.js';
import { resolveReadLimit } from './stream-types.js';
import { assertSubject } from './subjects.js';

type Start = { seq: number } | { time: number };

/** A reader positioned at `start`; `pending` matching messages lie ahead of it. */
async function openReader(
  jsm: JetStreamManager,
  stream: string,
  start: Start,
  subject?: string,
  lastSeq?: number,
): Promise<{ name: string; pending: number }> {
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
  let pending = info.num_pending;
  // With a filter, 0 ahead is an ordinary answer (readLast's probes meet it often): only an
  // unfiltered reader's 0 can contradict the stream's own last sequence.
  if (pending === 0 && 'seq' in start && !subject)
    pending = await settledPending(jsm, stream, info.name, start.seq, lastSeq);
  return { name: info.name, pending };
}

/** How long a reader whose count says 0 is re-asked while the stream holds messages at or after its start. */
const PENDING_SETTLE_MS = 200;

/**
 * A reader created right after its stream changed peers (R1 scaled to R3) can report
 * num_pending 0 for a moment although messages lie ahead (seen in CI: a read returned []
 * with every replica current). When the stream's last sequence (`lastSeq` when the caller
 * read it already, else asked here) is at or after `from`, the reader's count is asked again
 * for up to {@link PENDING_SETTLE_MS}; 0 then stands (e.g. every message ahead was deleted).
 */
async function settledPending(
  jsm: JetStreamManager,
  stream: string,
  name: string,
  from: number,
  lastSeq?: number,
): Promise<number> {
  let last = lastSeq;
  if (last === undefined) {
    const state = (await jsm.streams.info(stream)).state;
    last = state.messages === 0 ? 0 : state.last_seq;
  }
  if (last < from) return 0;
  const until = Date.now() + PENDING_SETTLE_MS;
  for (;;) {
    const n = (await jsm.consumers.info(stream, name)).num_pending;
    if (n > 0 || Date.now() >= until) return n;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Bytes one pull may return; above nats-server's largest max_payload (64 MiB) is never needed. */
const PULL_MAX_BYTES = 8 * 1024 * 1024;
/** A pull that brings nothing for this long ends the read (messages removed by limits, a lost connection). */
const PULL_IDLE_MS = 2000;

/**
 * Stream sequence and store time of a delivered message, from its `$JS.ACK` reply subject
 * (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ns>.<pending>`, or with domain and
 * account hash after `ACK` and a random token at the end); undefined for a status message.
 */
function deliveryOf(reply: string | undefined): { seq: number; time: number } | undefined {
  if (!reply?.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  const at = t.length === 9 ? 0 : t.length >= 11 ? 2 : -1;
  if (at < 0) return undefined;
  return { seq: Number(t[5 + at]), time: Math.floor(Number(t[7 + at]) / 1e6) };
}

/**
 * One pull request of at most `batch` messages, sent by hand (`no_wait`: the server answers
 * at once with what it has, then a status when that is less): no consumer info round trip
 * as `consumers.get` + `fetch` make, and `max_bytes` keeps the answer small enough for the
 * connection whatever the messages weigh.
 */
function pullOnce(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  batch: number,
  out: StoredMsg[],
): Promise<number> {
  return new Promise((resolve) => {
    // The login's own reply prefix (NatsConfig.inboxPrefix; docs/security.md Roles).
    const inbox = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    let got = 0;
    let seen = -1;
    const end = () => {
      clearInterval(timer);
      sub.unsubscribe();
      resolve(got);
    };
    const sub = nc.subscribe(inbox, {
      callback: (err, m) => {
        const d = err ? undefined : deliveryOf(m.reply);
        if (!d) return end(); // an error or a status (404 no messages, 408, 409 max bytes)
        out.push({ subject: m.subject, data: m.data, headers: fromNatsHeaders(m.headers), seq: d.seq, time: d.time });
        if (++got >= batch) end();
      },
    });
    // One timer for the whole pull (not one per message): it ends the pull when a period passed without a message.
    const timer = setInterval(() => (got === seen ? end() : (seen = got)), PULL_IDLE_MS / 2);
    nc.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
      JSON.stringify({ batch, no_wait: true, max_bytes: PULL_MAX_BYTES }),
      { reply: inbox },
    );
  });
}

/** Reads `count` messages from a reader (pulls of at most 1,000), then deletes it. */
async function drain(
  nc: NatsConnection,
  jsm: JetStreamManager,
  stream: string,
  reader: { name: string },
  count: number,
): Promise<StoredMsg[]> {
  const out: StoredMsg[] = [];
  try {
    while (out.length < count) {
      // removed by limits meanwhile
      if ((await pullOnce(nc, stream, reader.name, Math.min(1000, count - out.length), out)) === 0) break;
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
async function readLast(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: ReadStreamOptions,
  lowest: number,
  last: number,
  limit: number,
): Promise<StoredMsg[]> {
  const { stream, subject } = options;
  const discard = (r: { name: string }) => jsm.consumers.delete(stream, r.name).catch(() => false);
  let hi = last + 1; // a start with fewer than `limit` ahead
  for (let width = limit; ; width *= 4) {
    const from = Math.max(lowest, last - width + 1);
    const reader = await openReader(jsm, stream, { seq: from }, subject, last);
    if (reader.pending < limit) {
      if (from === lowest) return drain(nc, jsm, stream, reader, reader.pending);
      await discard(reader);
      hi = from;
      continue;
    }
    let best = reader;
    let lo = from;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const probe = await openReader(jsm, stream, { seq: mid }, subject, last);
      if (probe.pending >= limit) {
        await discard(best);
        best = probe;
        lo = mid;
      } else {
        await discard(probe);
        hi = mid;
      }
    }
    return (await drain(nc, jsm, stream, best, limit)).slice(-limit);
  }
}

/**
 * Reads stored messages back, oldest first.
 * @throws JetStreamNotFoundError when the stream does not exist
 */
export async function natsReadStream(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: ReadStreamOptions,
): Promise<StoredMsg[]> {
  const limit = resolveReadLimit(options.limit);
  if (options.subject !== undefined) assertSubject(options.subject, true);
  const { stream, subject } = options;
  try {
    if (options.fromTime === undefined && !options.last) {
      // A reader from a sequence needs no stream info: it starts at the first stored message
      // at or after fromSeq and its num_pending counts what lies ahead (0 past the end).
      const reader = await openReader(jsm, stream, { seq: Math.max(1, options.fromSeq ?? 1) }, subject);
      return await drain(nc, jsm, stream, reader, Math.min(limit, reader.pending));
    }
    const { first_seq: first, last_seq: last, messages } = (await jsm.streams.info(stream)).state;
    if (messages === 0) return [];
    let lowest = Math.max(first, options.fromSeq ?? 1);
    if (lowest > last) return [];
    if (options.fromTime !== undefined) {
      // Find the first matching message at or after fromTime; windows below start there.
      const probe = await openReader(jsm, stream, { time: options.fromTime }, subject);
      const head = (await drain(nc, jsm, stream, probe, Math.min(1, probe.pending)))[0];
      if (!head) return [];
      lowest = Math.max(lowest, head.seq);
    }
    if (!options.last) {
      const reader = await openReader(jsm, stream, { seq: lowest }, subject, last);
      return await drain(nc, jsm, stream, reader, Math.min(limit, reader.pending));
    }
    return await readLast(nc, jsm, options, lowest, last, limit);
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
export async function natsGetStreamMsg(
  jsm: JetStreamManager,
  stream: string,
  query: StreamMsgQuery,
): Promise<StoredMsg | undefined> {
  const q =
    'lastBySubject' in query
      ? { last_by_subj: query.lastBySubject }
      : query.subject
        ? { seq: Math.max(1, query.seq), next_by_subj: query.subject }
        : { seq: Math.max(1, query.seq), next_by_subj: '>' };
  try {
    // next_by_subj is part of the server's MSG.GET request; the client's type only lacks it.
    const m = await jsm.streams.getMessage(stream, q as unknown as MsgRequest);
    return m
      ? { subject: m.subject, data: m.data, headers: fromNatsHeaders(m.header), seq: m.seq, time: m.time.getTime() }
      : undefined;
  } catch (err) {
    throw mapNatsError(err, { operation: `getStreamMsg '${stream}'`, stream: { kind: 'stream', name: stream } });
  }
}
