/**
 * JetStream streams and durable consumers as the services use them (docs/spec.md §3 Subjects and
 * shared state and §9 Reverb): status claims captured with de-duplication by `Nats-Msg-Id`,
 * consumed by reverb's durable consumer; bar reports kept and read back as history.
 */
import { InvalidArgumentError } from '@backbeat/core';
import type { Headers } from './headers.js';
import { assertReplicas } from './replica-count.js';
import { assertSubject, subjectsOverlap } from './subjects.js';

/** A stream: which subjects it captures and how long it keeps messages. */
export interface StreamConfig {
  /** Letters, digits, `_` and `-` (no dots, spaces, `*` or `>`). */
  name: string;
  /** Subjects captured; wildcards allowed; must not overlap another stream's. */
  subjects: string[];
  /** Drop messages older than this. 0: no limit. @default 0 */
  maxAgeMs?: number;
  /** Keep at most this many messages, dropping the oldest. 0: no limit. @default 0 */
  maxMsgs?: number;
  /** Keep at most this many payload bytes, dropping the oldest. 0: no limit. @default 0 */
  maxBytes?: number;
  /** Refuse a message larger than this (payload and headers), with StreamRefusedError. 0: no limit. @default 0 */
  maxMsgSize?: number;
  /**
   * What a stream at its message or byte limit does: `old` drops its oldest messages, `new`
   * refuses the new one (StreamRefusedError, reason `full`). @default 'old'
   */
  discard?: 'old' | 'new';
  /**
   * Window in which a repeated `Nats-Msg-Id` is refused as a duplicate. At most maxAgeMs.
   * @default 120000, or maxAgeMs when that is shorter
   */
  duplicateWindowMs?: number;
  /**
   * Copies of the stream (1 to 5). A new stream is created with it; an existing stream with
   * another count is changed to it when the server can, else ReplicaMismatchError says what
   * differs and how to fix it. Absent: 1 for a new stream, an existing stream's count is kept.
   */
  replicas?: number;
  /**
   * The server republishes every message it stores on a subject matching `source` to
   * `destination` (JetStream RePublish), once, in stream order, with the message's own headers
   * and `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Last-Sequence`
   * added; a duplicate (`Nats-Msg-Id` seen) is not stored, so not republished. `destination` must
   * not be captured by the stream. An existing stream takes it by an update on nats-server 2.10
   * or newer; 2.9 cannot change it (RepublishUnchangeableError). Absent: an existing stream keeps
   * the republish it has.
   */
  republish?: StreamRepublish;
}

/** Where a stream republishes what it stores (see {@link StreamConfig.republish}). */
export interface StreamRepublish {
  /** The stored messages' subject (wildcards allowed), one the stream captures. */
  readonly source: string;
  /** The subject they are republished on (one subject, no wildcards). */
  readonly destination: string;
}

/** Headers the server adds to a republished message. */
export const REPUBLISH_HEADERS = {
  stream: 'Nats-Stream',
  subject: 'Nats-Subject',
  sequence: 'Nats-Sequence',
  timeStamp: 'Nats-Time-Stamp',
  lastSequence: 'Nats-Last-Sequence',
} as const;

/** Options of {@link Bus.publishDurable}. */
export interface DurablePublishOptions {
  headers?: Headers;
  /** Sent as `Nats-Msg-Id`: a retry with the same id within the duplicate window is stored once. */
  msgId?: string;
  /** Wait this long for the stream's acknowledgement. @default 5000 */
  timeoutMs?: number;
}

/** A stream's acknowledgement of a durable publish. */
export interface DurablePublishResult {
  readonly stream: string;
  /** Stream sequence of the stored message (of the first copy, for a duplicate). */
  readonly seq: number;
  /** True when the stream had the msgId already and did not store the message again. */
  readonly duplicate: boolean;
}

/** A message delivered by a durable consumer. */
export interface DurableMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Stream sequence. */
  readonly seq: number;
  /** When the stream stored it, ms since the epoch. */
  readonly time: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** deliveryCount > 1. */
  readonly redelivered: boolean;
  /** Done with it: never delivered again. Lost while disconnected (then it is redelivered). */
  ack(): void;
  /** Deliver it again, after `delayMs` (default at once). */
  nak(delayMs?: number): void;
  /** Never deliver it again, without processing it (a poison message). */
  term(): void;
}

/** Options of {@link Bus.consume}. */
export interface ConsumeOptions {
  stream: string;
  /** Durable name: a consumer re-created with it resumes where the last one stopped. */
  durable: string;
  /** Only messages on this subject (wildcards allowed). */
  filterSubject?: string;
  /** Unacknowledged messages are redelivered after this. @default 30000 */
  ackWaitMs?: number;
  /** At most this many delivered and unacknowledged messages at once. @default 1000 */
  maxAckPending?: number;
  /** Stop delivering a message after this many attempts; -1 for no limit. @default -1 */
  maxDeliver?: number;
  /** Where a new durable starts: every stored message, or only new ones. @default 'all' */
  deliverPolicy?: 'all' | 'new';
  /**
   * A new durable starts at the first message stored at or after this time (ms since the
   * epoch), instead of `deliverPolicy`. An existing durable keeps its position.
   */
  startTime?: number;
  /**
   * How messages are acknowledged.
   * - 'explicit': each `ack()` acknowledges that message alone.
   * - 'all' (JetStream's AckAll): `ack()` acknowledges that message and every one delivered
   *   before it. The bus sends one acknowledgement for a run of acks (every
   *   {@link ACK_ALL_BATCH}, or {@link ACK_ALL_DELAY_MS} after the last), which lets one
   *   durable take several times more messages per second. For a handler that acks in
   *   delivery order, on a durable with one client attached. A message nak'ed (or whose
   *   handler threw) is delivered again unless a later message is acknowledged first: use
   *   it for handlers that settle every message themselves (reverb dead-letters a claim it
   *   cannot count).
   * A durable that exists with the other policy is re-created (the server cannot change it),
   * starting after its acknowledged floor: messages after the floor are delivered again.
   * @default 'explicit'
   */
  ackPolicy?: 'explicit' | 'all';
}

/** With `ackPolicy: 'all'`, one acknowledgement is sent at least every this many acks. */
export const ACK_ALL_BATCH = 256;
/** With `ackPolicy: 'all'`, an ack not sent yet is sent this long after it was made. */
export const ACK_ALL_DELAY_MS = 20;

/** A stream's state (the server's `state`). */
export interface StreamState {
  /** Sequence of the oldest stored message (lastSeq + 1 when empty). */
  readonly firstSeq: number;
  /** Sequence of the newest message ever stored (0 when none). */
  readonly lastSeq: number;
  /** Messages held. */
  readonly messages: number;
}

/**
 * Which stored message {@link Bus.getStreamMsg} returns: the first at or after `seq` (on
 * `subject` when given), or the last one stored on `lastBySubject`. One server request, no
 * consumer: a lookup in time independent of the stream's length.
 */
export type StreamMsgQuery = { readonly seq: number; readonly subject?: string } | { readonly lastBySubject: string };

/** A consumer of a stream, as the server reports it. */
export interface ConsumerState {
  readonly name: string;
  /** True for a durable consumer (it outlives its clients). */
  readonly durable: boolean;
  /** Matching messages not delivered yet. */
  readonly pending: number;
  /** Delivered and not acknowledged yet. */
  readonly ackPending: number;
  /** Pull requests waiting on the server: above 0 while some client consumes from it. */
  readonly waiting: number;
  /**
   * The consumer's position: the last stream sequence it delivered or stepped over (a durable
   * that starts at a time or at new messages begins just before its first message).
   */
  readonly deliveredSeq: number;
}

/** A running consumer. */
export interface Consumer {
  /** Stops delivery after the message in hand; unacknowledged messages stay pending for the durable. */
  stop(): Promise<void>;
}

/** A message read back from a stream. */
export interface StoredMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly seq: number;
  /** When the stream stored it, ms since the epoch. */
  readonly time: number;
}

/** Options of {@link Bus.readStream}. */
export interface ReadStreamOptions {
  stream: string;
  /** Only messages on this subject (wildcards allowed). */
  subject?: string;
  /** Start at this sequence. Default: the first stored. */
  fromSeq?: number;
  /** Start at the first message stored at or after this time (ms since the epoch). */
  fromTime?: number;
  /** Return at most this many; a large limit reads that many into memory. @default 100 */
  limit?: number;
  /** Return the last `limit` matching messages instead of the first (still oldest first). @default false */
  last?: boolean;
}

/** Default duplicate window of a stream: two minutes, like nats-server. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

/** A stream configuration with every default applied (`replicas` stays absent when not asked). */
export type ResolvedStreamConfig = Readonly<
  Required<Omit<StreamConfig, 'replicas' | 'republish'>> & Pick<StreamConfig, 'replicas' | 'republish'>
>;

/**
 * Applies the defaults of a stream configuration and checks its numbers, the same way for
 * both buses (nats-server refuses a duplicate window longer than max age).
 * @throws InvalidArgumentError for a negative limit or a duplicate window longer than maxAgeMs
 */
export function resolveStreamConfig(config: StreamConfig): ResolvedStreamConfig {
  const maxAgeMs = config.maxAgeMs ?? 0;
  const maxMsgs = config.maxMsgs ?? 0;
  const maxBytes = config.maxBytes ?? 0;
  const maxMsgSize = config.maxMsgSize ?? 0;
  const discard = config.discard ?? 'old';
  if (discard !== 'old' && discard !== 'new')
    throw new InvalidArgumentError('stream.discard', `must be 'old' or 'new', got '${String(discard)}'`);
  for (const [field, v] of Object.entries({ maxAgeMs, maxMsgs, maxBytes, maxMsgSize })) {
    if (!Number.isFinite(v) || v < 0)
      throw new InvalidArgumentError(`stream.${field}`, `must be a number >= 0, got ${v}`);
  }
  const duplicateWindowMs =
    config.duplicateWindowMs ??
    (maxAgeMs > 0 ? Math.min(DEFAULT_DUPLICATE_WINDOW_MS, maxAgeMs) : DEFAULT_DUPLICATE_WINDOW_MS);
  if (!Number.isFinite(duplicateWindowMs) || duplicateWindowMs <= 0) {
    throw new InvalidArgumentError('stream.duplicateWindowMs', `must be a number > 0, got ${duplicateWindowMs}`);
  }
  if (maxAgeMs > 0 && duplicateWindowMs > maxAgeMs) {
    throw new InvalidArgumentError(
      'stream.duplicateWindowMs',
      `${duplicateWindowMs} ms is longer than maxAgeMs ${maxAgeMs} ms`,
    );
  }
  if (config.replicas !== undefined) assertReplicas(config.replicas, 'stream.replicas');
  const replicas = config.replicas === undefined ? {} : { replicas: config.replicas };
  const republish = config.republish === undefined ? {} : { republish: resolveRepublish(config) };
  return Object.freeze({
    name: config.name,
    subjects: [...config.subjects],
    maxAgeMs,
    maxMsgs,
    maxBytes,
    maxMsgSize,
    discard,
    duplicateWindowMs,
    ...replicas,
    ...republish,
  });
}

/**
 * Checks a stream's republish: both subjects valid, `source` captured by the stream,
 * `destination` not (the server refuses a cycle).
 * @throws InvalidSubjectError for a bad subject
 * @throws InvalidArgumentError naming `stream.republish.<field>` and the rule
 */
function resolveRepublish(config: StreamConfig): StreamRepublish {
  const { source, destination } = config.republish!;
  assertSubject(source, true);
  assertSubject(destination, false);
  if (!config.subjects.some((s) => subjectsOverlap(s, source))) {
    throw new InvalidArgumentError(
      'stream.republish.source',
      `'${source}' is not a subject of stream '${config.name}'`,
    );
  }
  if (config.subjects.some((s) => subjectsOverlap(s, destination))) {
    throw new InvalidArgumentError(
      'stream.republish.destination',
      `'${destination}' is captured by stream '${config.name}' itself (a cycle)`,
    );
  }
  return Object.freeze({ source, destination });
}

/** @throws InvalidArgumentError unless the limit of a read is an integer >= 1 */
export function resolveReadLimit(limit: number | undefined): number {
  const n = limit ?? 100;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('limit', `must be an integer >= 1, got ${n}`);
  return n;
}
