/**
 * The bus: what BACKBEAT's services need from NATS, and nothing more. Implemented by NatsBus
 * (nats.js v3 on a real nats-server) and MemoryBus (in-process twin for `backbeat dev` and
 * unit tests). One conformance suite runs against both, so the twin cannot drift.
 *
 * Higher layers are handed a Bus; they never open a connection themselves.
 */
import type { Headers } from './headers.js';
import type { KvBucket, KvBucketOptions } from './kv-types.js';
import type {
  Consumer,
  ConsumeOptions,
  DurableMsg,
  DurablePublishOptions,
  DurablePublishResult,
  ConsumerState,
  ReadStreamOptions,
  StoredMsg,
  StreamConfig,
  StreamMsgQuery,
  StreamState,
} from './stream-types.js';

export type { Headers } from './headers.js';

/** A core message as received. */
export interface BusMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Headers with their names exactly as the sender wrote them; empty when none. */
  readonly headers: Headers;
  /** Reply subject of a request. */
  readonly reply?: string;
  /** Answers a request; false when the message has no reply subject or the bus is closed. */
  respond(data: Uint8Array, headers?: Headers): boolean;
}

/** A live subscription. */
export interface Subscription {
  readonly subject: string;
  /** Stops delivery; idempotent. */
  unsubscribe(): void;
}

/** Options of {@link Bus.subscribe}. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group (across all clients). */
  queue?: string;
}

/** Options of {@link Bus.request}. */
export interface RequestOptions {
  /** Give up after this long. @default 2000 */
  timeoutMs?: number;
  headers?: Headers;
}

/** Connection state of a bus. */
export interface BusStatus {
  /** False while disconnected (the client is reconnecting) and after close. */
  readonly connected: boolean;
  /** Reconnections since the bus was created. */
  readonly reconnects: number;
  /** Core publishes dropped because the bus was disconnected (docs/spec.md §12 Known pitfalls). */
  readonly dropped: number;
}

/** A change of connection state: a discriminated union on `type`. */
export type BusEvent =
  | { readonly type: 'disconnect' }
  | { readonly type: 'reconnect' }
  /** Closed for good: by close(), or after the last reconnect attempt. */
  | { readonly type: 'closed' }
  /** An asynchronous error: from the server, or thrown by a message handler. */
  | { readonly type: 'error'; readonly error: Error };

/** What the services need from the messaging system. */
export interface Bus {
  readonly kind: 'nats' | 'memory';
  /**
   * Fire-and-forget publish. While disconnected the message is dropped silently and counted
   * in `status().dropped`: right for beats (stale beats must not arrive late), wrong for
   * claims: use {@link publishDurable} with a msgId and queue while disconnected (docs/spec.md §12
   * Known pitfalls).
   * @throws InvalidSubjectError for a bad subject or one with wildcards
   * @throws NotConnectedError once closed
   * @throws TransportError for a payload over the server's max_payload (1 MiB by default)
   */
  publish(subject: string, data: Uint8Array, options?: { headers?: Headers }): void;
  /**
   * Subscribes; `*` matches one token, `>` (last token only) one or more. Messages arrive
   * asynchronously, in publish order per publisher. The publisher's own subscriptions receive
   * its messages too. A handler that throws reports an `error` event; delivery goes on.
   * @throws InvalidSubjectError, NotConnectedError
   */
  subscribe(subject: string, handler: (msg: BusMsg) => void, options?: SubscribeOptions): Subscription;
  /**
   * Request/reply: the first answer wins.
   * @throws NoRespondersError at once when nobody subscribes to the subject
   * @throws TimeoutError when nobody answers in time (also when disconnected)
   * @throws InvalidSubjectError, NotConnectedError
   */
  request(subject: string, data: Uint8Array, options?: RequestOptions): Promise<BusMsg>;
  /** Resolves when every message published so far has reached the server. @throws NotConnectedError */
  flush(): Promise<void>;
  /**
   * Opens a KV bucket, creating it when absent (unless `create: false`). When the bucket
   * exists its configuration is kept: the first creator's TTL and history win.
   * @throws InvalidSubjectError for a bad bucket name
   * @throws JetStreamNotFoundError with `create: false` and no such bucket
   */
  kv(bucket: string, options?: KvBucketOptions): Promise<KvBucket>;
  /**
   * Creates the stream, or updates it to this configuration.
   * @throws InvalidSubjectError for a bad name or subject
   * @throws InvalidArgumentError for a duplicate window longer than maxAge
   * @throws TransportError when its subjects overlap another stream's
   */
  ensureStream(config: StreamConfig): Promise<void>;
  /**
   * Publishes to a stream and waits for its acknowledgement. With a msgId (`Nats-Msg-Id`)
   * a repeat within the stream's duplicate window is not stored again: the result says
   * `duplicate: true` and carries the first copy's sequence.
   * @throws NoRespondersError when no stream captures the subject
   * @throws TimeoutError when no acknowledgement arrives in time (e.g. while disconnected)
   */
  publishDurable(subject: string, data: Uint8Array, options?: DurablePublishOptions): Promise<DurablePublishResult>;
  /**
   * Starts (or resumes) a durable consumer. Each consumer handles one message at a time: the
   * handler is awaited. A message neither acked nor terminated is redelivered after
   * ackWaitMs; a handler that throws gets its message nak'ed. Re-created with the same durable
   * name (after a restart too), it resumes with the unacknowledged and undelivered messages.
   * @throws JetStreamNotFoundError when the stream does not exist
   */
  consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Promise<Consumer>;
  /**
   * Reads stored messages back, oldest first (history, e.g. reverb's bar reports).
   * @throws JetStreamNotFoundError when the stream does not exist
   */
  readStream(options: ReadStreamOptions): Promise<StoredMsg[]>;
  /**
   * Drops the current connection at once, together with everything still buffered for it
   * (nothing queued before the drop is sent later), then reconnects as after any connection
   * loss. For a publisher whose connection stalled: its stale messages must never arrive
   * late (the pulse fences itself with it, docs/spec.md §7 Election, terms and fencing). No effect
   * while disconnected or closed.
   */
  dropConnection(): void;
  /**
   * The first and last sequences and the message count of a stream.
   * @throws JetStreamNotFoundError when the stream does not exist
   */
  streamState(stream: string): Promise<StreamState>;
  /**
   * One stored message by sequence (the first at or after it, optionally on a subject) or
   * the last one on a subject; undefined when there is none. One request, no consumer.
   * @throws JetStreamNotFoundError when the stream does not exist
   */
  getStreamMsg(stream: string, query: StreamMsgQuery): Promise<StoredMsg | undefined>;
  /**
   * The consumers of a stream (durable and ephemeral).
   * @throws JetStreamNotFoundError when the stream does not exist
   */
  listConsumers(stream: string): Promise<ConsumerState[]>;
  /**
   * Deletes a consumer; false when there was none by that name. Clients attached to it stop
   * receiving messages.
   * @throws JetStreamNotFoundError when the stream does not exist
   */
  deleteConsumer(stream: string, name: string): Promise<boolean>;
  /** The connection state now. */
  status(): BusStatus;
  /** Listens to connection changes; returns the function that removes the listener. */
  onStatus(listener: (event: BusEvent) => void): () => void;
  /**
   * Stops this bus's subscriptions, consumers and watchers, delivers what is in flight, and
   * closes the connection it owns. Idempotent.
   */
  close(): Promise<void>;
}

/** Header a durable publish carries its de-duplication id in (exact case, docs/spec.md §10 Security). */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
