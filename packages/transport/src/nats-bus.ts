/**
 * Bus over nats.js v3 on a real nats-server: core pub/sub and request, JetStream KV, streams
 * and durable pull consumers. Every failure surfaces as one of the transport's typed errors.
 */
import { InvalidArgumentError } from '@backbeat/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type {
  Bus,
  BusEvent,
  BusMsg,
  BusStatus,
  Headers,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './bus.js';
import { MSG_ID_HEADER } from './bus.js';
import { NotConnectedError } from './errors.js';
import type { KvBucket, KvBucketOptions } from './kv-types.js';
import { mapNatsError } from './nats-errors.js';
import { toNatsHeaders } from './nats-headers.js';
import { CREATE_TIMEOUT_MS, createManager } from './nats-create.js';
import { openNatsKv } from './nats-kv.js';
import { toBusMsg } from './nats-msg.js';
import { natsConnectOptions, type NatsConfig } from './nats-options.js';
import { natsGetStreamMsg, natsReadStream, natsStreamState } from './nats-read.js';
import { resetNatsSocket } from './nats-reset.js';
import { natsClustered, natsServersSeen, natsServerVersion } from './nats-server-info.js';
import { natsConsume, natsDeleteConsumer, natsEnsureStream, natsListConsumers } from './nats-streams.js';
import type {
  Consumer,
  ConsumeOptions,
  ConsumerState,
  DurableMsg,
  DurablePublishOptions,
  DurablePublishResult,
  ReadStreamOptions,
  StoredMsg,
  StreamConfig,
  StreamMsgQuery,
  StreamState,
} from './stream-types.js';
import { assertQueueName, assertSubject } from './subjects.js';

/** A bus on a real nats-server. */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  /** The underlying nats.js connection (for what the Bus does not offer). */
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  #jsm: Promise<JetStreamManager> | undefined;
  /** JetStream contexts whose calls wait CREATE_TIMEOUT_MS: for creates only (nats-create.ts). */
  #createJsm: Promise<JetStreamManager> | undefined;
  readonly #creator: JetStreamClient;
  #connected: boolean;
  #reconnects = 0;
  #dropped = 0;
  #closed = false;
  readonly #owned: boolean;
  readonly #listeners = new Set<(e: BusEvent) => void>();
  /** Subscriptions, consumers and watchers this bus started, stopped by close(). */
  readonly #resources = new Set<() => void | Promise<void>>();

  private constructor(nc: NatsConnection, owned: boolean) {
    this.nc = nc;
    this.#owned = owned;
    this.#connected = !nc.isClosed();
    this.js = jetstream(nc);
    this.#creator = jetstream(nc, { timeout: CREATE_TIMEOUT_MS });
    void this.#watchStatus();
    void nc.closed().then(() => {
      this.#connected = false;
      this.#emit({ type: 'closed' });
    });
  }

  /**
   * Connects with the project's defaults: unlimited reconnects, 5 s pings (docs/spec.md §12 Known
   * pitfalls).
   * @throws TransportError when the first connection fails
   */
  static async connect(config: NatsConfig = {}): Promise<NatsBus> {
    const opts = natsConnectOptions(config);
    try {
      return new NatsBus(await connect(opts), true);
    } catch (err) {
      throw mapNatsError(err, { operation: `connect to ${String(opts.servers)}` });
    }
  }

  /** Wraps a connection made by the caller; close() then stops this bus's work but leaves the connection open. */
  static fromConnection(nc: NatsConnection): NatsBus {
    return new NatsBus(nc, false);
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false;
        this.#emit({ type: 'disconnect' });
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        this.#reconnects += 1;
        this.#emit({ type: 'reconnect' });
      } else if (s.type === 'error') {
        this.#emit({ type: 'error', error: s.error });
      }
    }
  }

  #emit(e: BusEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #reportError(err: unknown): void {
    this.#emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
  }

  #track(stop: () => void | Promise<void>): () => void {
    this.#resources.add(stop);
    return () => this.#resources.delete(stop);
  }

  #checkOpen(op: string): void {
    if (this.#closed || this.nc.isClosed()) throw new NotConnectedError(op);
  }

  /** The version of the server this bus is connected to, from its INFO (`2.14.10`). */
  get serverVersion(): string | undefined {
    return natsServerVersion(this.nc);
  }

  /** True when the server this bus is connected to belongs to a cluster (its INFO names one). */
  get clustered(): boolean {
    return natsClustered(this.nc);
  }

  /** Servers of the cluster this connection sees now, at least 1 (nats-server-info.ts). */
  get serversSeen(): number {
    return natsServersSeen(this.nc);
  }

  /** The JetStream manager, made once. */
  jsm(): Promise<JetStreamManager> {
    this.#jsm ??= jetstreamManager(this.nc);
    this.#jsm.catch(() => (this.#jsm = undefined)); // retry next time
    return this.#jsm;
  }

  publish(subject: string, data: Uint8Array, options: { headers?: Headers } = {}): void {
    assertSubject(subject, false);
    this.#checkOpen('publish');
    if (!this.#connected) {
      // nats.js would buffer it and may send it after the reconnect: a stale beat (docs/spec.md §12
      // Known pitfalls).
      this.#dropped += 1;
      return;
    }
    try {
      this.nc.publish(subject, data, { headers: toNatsHeaders(options.headers) });
    } catch (err) {
      throw mapNatsError(err, { operation: `publish on '${subject}'`, subject });
    }
  }

  subscribe(subject: string, handler: (msg: BusMsg) => void, options: SubscribeOptions = {}): Subscription {
    assertSubject(subject, true);
    if (options.queue !== undefined) assertQueueName(options.queue);
    this.#checkOpen('subscribe');
    const sub = this.nc.subscribe(subject, {
      queue: options.queue,
      callback: (err, m) => {
        if (err) return this.#reportError(mapNatsError(err, { operation: `subscription on '${subject}'` }));
        try {
          handler(toBusMsg(m));
        } catch (e) {
          this.#reportError(e);
        }
      },
    });
    const unsubscribe = () => {
      untrack();
      if (!sub.isClosed()) sub.unsubscribe();
    };
    const untrack = this.#track(unsubscribe);
    return { subject, unsubscribe };
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<BusMsg> {
    assertSubject(subject, false);
    this.#checkOpen(`request on '${subject}'`);
    const timeoutMs = options.timeoutMs ?? 2000;
    try {
      return toBusMsg(
        await this.nc.request(subject, data, { timeout: timeoutMs, headers: toNatsHeaders(options.headers) }),
      );
    } catch (err) {
      throw mapNatsError(err, { operation: `request on '${subject}'`, subject, timeoutMs });
    }
  }

  async flush(): Promise<void> {
    this.#checkOpen('flush');
    try {
      await this.nc.flush();
    } catch (err) {
      throw mapNatsError(err, { operation: 'flush' });
    }
  }

  async kv(bucket: string, options: KvBucketOptions = {}): Promise<KvBucket> {
    this.#checkOpen(`kv '${bucket}'`);
    const t = options.timeoutMs;
    if (t !== undefined && !(Number.isFinite(t) && t >= 1))
      throw new InvalidArgumentError('timeoutMs', `must be a number of ms >= 1, got ${t}`);
    // A handle with its own timeout gets its own JetStream context (the KV's writes and direct gets use it).
    const js = t === undefined ? this.js : jetstream(this.nc, { timeout: t });
    return openNatsKv(
      js,
      await this.#manager(),
      bucket,
      options,
      { track: (s) => this.#track(s), reportError: (e) => this.#reportError(e), clustered: () => this.clustered },
      this.#creator,
    );
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    this.#checkOpen(`ensureStream '${config.name}'`);
    this.#createJsm ??= createManager(this.nc);
    this.#createJsm.catch(() => (this.#createJsm = undefined));
    const server = { clustered: this.clustered, version: this.serverVersion };
    await natsEnsureStream(await this.#manager(), config, server, await this.#createJsm);
  }

  async publishDurable(
    subject: string,
    data: Uint8Array,
    options: DurablePublishOptions = {},
  ): Promise<DurablePublishResult> {
    assertSubject(subject, false);
    this.#checkOpen(`publishDurable on '${subject}'`);
    const timeoutMs = options.timeoutMs ?? 5000;
    const headers = options.msgId ? { ...options.headers, [MSG_ID_HEADER]: options.msgId } : options.headers;
    try {
      const ack = await this.js.publish(subject, data, { headers: toNatsHeaders(headers), timeout: timeoutMs });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw mapNatsError(err, { operation: `publishDurable on '${subject}'`, subject, timeoutMs });
    }
  }

  async consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Promise<Consumer> {
    this.#checkOpen(`consume '${options.stream}'`);
    const consumer = await natsConsume(this.js, await this.#manager(), options, handler, (e) => this.#reportError(e));
    const stop = async () => {
      untrack();
      await consumer.stop();
    };
    const untrack = this.#track(stop);
    return { stop };
  }

  async readStream(options: ReadStreamOptions): Promise<StoredMsg[]> {
    this.#checkOpen(`readStream '${options.stream}'`);
    return natsReadStream(this.nc, await this.#manager(), options);
  }

  async streamState(stream: string): Promise<StreamState> {
    this.#checkOpen(`streamState '${stream}'`);
    return natsStreamState(await this.#manager(), stream);
  }

  async getStreamMsg(stream: string, query: StreamMsgQuery): Promise<StoredMsg | undefined> {
    this.#checkOpen(`getStreamMsg '${stream}'`);
    return natsGetStreamMsg(await this.#manager(), stream, query);
  }

  async listConsumers(stream: string): Promise<ConsumerState[]> {
    this.#checkOpen(`listConsumers '${stream}'`);
    return natsListConsumers(await this.#manager(), stream);
  }

  async deleteConsumer(stream: string, name: string): Promise<boolean> {
    this.#checkOpen(`deleteConsumer '${stream}'`);
    return natsDeleteConsumer(await this.#manager(), stream, name);
  }

  async #manager(): Promise<JetStreamManager> {
    try {
      return await this.jsm();
    } catch (err) {
      throw mapNatsError(err, { operation: 'JetStream' });
    }
  }

  dropConnection(): void {
    if (this.#closed || this.nc.isClosed() || !this.#connected) return;
    resetNatsSocket(this.nc);
  }

  status(): BusStatus {
    return {
      connected: this.#connected && !this.#closed && !this.nc.isClosed(),
      reconnects: this.#reconnects,
      dropped: this.#dropped,
    };
  }

  onStatus(listener: (event: BusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#resources].map((stop) => stop()));
    this.#resources.clear();
    if (this.#owned && !this.nc.isClosed()) {
      try {
        await this.nc.drain();
      } catch {
        await this.nc.close();
      }
    } else if (!this.#owned) {
      this.#emit({ type: 'closed' });
    }
    await (this.#owned ? this.nc.closed() : Promise.resolve());
    this.#listeners.clear();
  }
}
