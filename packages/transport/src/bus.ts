/**
 * The bus: what BACKBEAT's services need from NATS, and nothing more. Implemented by NatsBus
 * (nats.js v3 on a real nats-server) and MemoryBus (in-process twin for `backbeat dev` and
 * unit tests). One conformance suite runs against both, so the twin cannot drift.
 */

/** Message headers. Names are case-sensitive and kept exactly as sent (SPEC 10). */
export type Headers = Readonly<Record<string, string>>;

/** A core message as received. */
export interface BusMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Reply subject of a request. */
  readonly reply?: string;
  /** Answers a request; false when the message had no reply subject. */
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
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
}

/** Options of {@link Bus.request}. */
export interface RequestOptions {
  /** @default 2000 */
  timeoutMs?: number;
  headers?: Headers;
}

/** Options of {@link Bus.kv}. */
export interface KvBucketOptions {
  /**
   * Age after which every entry expires (bucket-level TTL; nats-server 2.9 ignores per-key
   * TTLs). 0 keeps entries forever. @default 0
   */
  ttlMs?: number;
  /** Values kept per key. @default 1 */
  history?: number;
}

/** A stored KV value. */
export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** Per-bucket sequence number: grows across all keys of the bucket. */
  readonly revision: number;
  /** When this revision was written, ms since the epoch. */
  readonly created: number;
}

/** A change seen by a KV watcher. Expiry by TTL produces no event (as on nats-server 2.9). */
export interface KvWatchEvent {
  readonly key: string;
  readonly operation: 'put' | 'delete';
  readonly value: Uint8Array;
  readonly revision: number;
}

/** A KV bucket with revisions and compare-and-set. */
export interface KvBucket {
  readonly name: string;
  /** The live value, or null when absent, deleted or expired. */
  get(key: string): Promise<KvEntry | null>;
  /**
   * Writes only when the key has no live value (absent, deleted or expired).
   * @throws KvConflictError when it has one
   */
  create(key: string, value: Uint8Array): Promise<number>;
  /**
   * Writes only when the key's last revision is `expectedRevision`.
   * @throws KvConflictError otherwise
   */
  update(key: string, value: Uint8Array, expectedRevision: number): Promise<number>;
  /** Writes unconditionally. */
  put(key: string, value: Uint8Array): Promise<number>;
  /**
   * Deletes the key (a delete marker). With expectedRevision, only at that revision.
   * @throws KvConflictError on a revision mismatch
   */
  delete(key: string, options?: { expectedRevision?: number }): Promise<void>;
  /**
   * Calls `cb` with the key's current value (if any), then with every put and delete.
   * `key` may be `>` for every key.
   */
  watch(key: string, cb: (event: KvWatchEvent) => void): Promise<{ stop(): void }>;
  /** Keys with a live value. */
  keys(): Promise<string[]>;
}

/** A JetStream stream. */
export interface StreamConfig {
  name: string;
  subjects: string[];
  /** Drop messages older than this. 0: no limit. */
  maxAgeMs?: number;
  /** Keep at most this many messages (oldest dropped first). 0: no limit. */
  maxMsgs?: number;
  /** Keep at most this many bytes. 0: no limit. */
  maxBytes?: number;
  /** Window in which a repeated Nats-Msg-Id is refused as a duplicate. @default 120000 */
  duplicateWindowMs?: number;
}

/** Options of {@link Bus.publishDurable}. */
export interface DurablePublishOptions {
  headers?: Headers;
  /** Sent as `Nats-Msg-Id`: a retry with the same id is stored once. */
  msgId?: string;
  /** Wait this long for the stream's acknowledgement. @default 5000 */
  timeoutMs?: number;
}

/** A stream's acknowledgement of a durable publish. */
export interface DurablePublishResult {
  readonly stream: string;
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
  /** When the stream stored it, ms since the epoch (arrival at the bus, not delivery). */
  readonly time: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly redelivered: boolean;
  /** Done with it: never delivered again. */
  ack(): void;
  /** Deliver it again (after delayMs). */
  nak(delayMs?: number): void;
  /** Never deliver it again, without processing. */
  term(): void;
}

/** Options of {@link Bus.consume}. */
export interface ConsumeOptions {
  stream: string;
  /** Durable name: a consumer re-created with it resumes where the last one stopped. */
  durable: string;
  filterSubject?: string;
  /** Unacknowledged messages are redelivered after this. @default 30000 */
  ackWaitMs?: number;
  /** At most this many unacknowledged messages at once. @default 1000 */
  maxAckPending?: number;
  /** Where a new durable starts: every stored message, or only new ones. @default 'all' */
  deliverPolicy?: 'all' | 'new';
}

/** A running consumer. */
export interface Consumer {
  /** Stops delivery; unacknowledged messages stay pending for the durable. */
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
  /** Return at most this many, oldest first. @default 100 */
  limit?: number;
  /** Return the last `limit` messages instead of the first. @default false */
  last?: boolean;
}

/** Connection state of a bus. */
export interface BusStatus {
  readonly connected: boolean;
  /** Reconnections since the bus was created. */
  readonly reconnects: number;
}

/** A change of connection state. */
export type BusEvent =
  | { readonly type: 'disconnect' }
  | { readonly type: 'reconnect' }
  | { readonly type: 'error'; readonly error: Error };

/** What the services need from the messaging system. */
export interface Bus {
  readonly kind: 'nats' | 'memory';
  /**
   * Fire-and-forget publish. While disconnected the message is dropped silently: right for
   * beats (stale beats must not arrive late), wrong for claims: use publishDurable.
   * @throws InvalidSubjectError for a bad subject, NotConnectedError when closed
   */
  publish(subject: string, data: Uint8Array, options?: { headers?: Headers }): void;
  /**
   * Subscribes with wildcards (`*`, `>`). Messages arrive asynchronously, in publish order.
   * The publisher's own subscriptions receive its messages too.
   */
  subscribe(subject: string, handler: (msg: BusMsg) => void, options?: SubscribeOptions): Subscription;
  /**
   * Request/reply. @throws NoRespondersError, TimeoutError
   */
  request(subject: string, data: Uint8Array, options?: RequestOptions): Promise<BusMsg>;
  /** Resolves when every message published so far has reached the server. */
  flush(): Promise<void>;
  /** Opens a KV bucket, creating it when absent. */
  kv(bucket: string, options?: KvBucketOptions): Promise<KvBucket>;
  /** Creates the stream, or updates it to this configuration. */
  ensureStream(config: StreamConfig): Promise<void>;
  /**
   * Publishes and waits for the stream's acknowledgement.
   * @throws NoRespondersError when no stream captures the subject, TimeoutError
   */
  publishDurable(subject: string, data: Uint8Array, options?: DurablePublishOptions): Promise<DurablePublishResult>;
  /**
   * Starts a durable consumer. `handler` is awaited per message; a message it neither acks nor
   * naks is redelivered after ackWaitMs. A handler that throws gets the message nak'ed.
   */
  consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Promise<Consumer>;
  /** Reads stored messages back, oldest first. */
  readStream(options: ReadStreamOptions): Promise<StoredMsg[]>;
  status(): BusStatus;
  /** Listens to connection changes; returns the unsubscribe function. */
  onStatus(listener: (event: BusEvent) => void): () => void;
  /** Drains and closes; idempotent. */
  close(): Promise<void>;
}

/** Header a durable publish carries its dedupe id in. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
