/**
 * The in-process twin of NatsBus, for the embedded `backbeat dev` mode and unit tests. Each
 * MemoryBus is one client of a MemoryBroker; several clients can share a broker, as several
 * processes share a nats-server. It behaves like nats-server for everything it offers: subject
 * rules and wildcards, queue groups, asynchronous delivery in publish order, echo to the
 * publisher, no-responders, KV compare-and-set with per-bucket revisions and bucket TTL,
 * streams with de-duplication and durable consumers. The conformance suite checks both.
 *
 * `simulateDisconnect()` and `simulateReconnect()` let unit tests lose the connection.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '@backbeat/core';
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
import {
  JetStreamNotFoundError,
  NoRespondersError,
  NotConnectedError,
  StreamRefusedError,
  TimeoutError,
} from './errors.js';
import type { KvBucket, KvBucketOptions } from './kv-types.js';
import { MemoryBroker, type BrokerSub } from './memory-broker.js';
import { assertReplicas } from './replica-count.js';
import { MemoryKvBucket, type MemoryClientHooks } from './memory-kv.js';
import type { MemoryStream } from './memory-streams.js';
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
import { assertJetStreamName, assertQueueName, assertSubject } from './subjects.js';

/** Options of {@link MemoryBus}. */
export interface MemoryBusOptions {
  /** The broker to connect to; share one between buses to make them see each other. @default a new broker */
  broker?: MemoryBroker;
  /** How long JetStream and KV calls wait for a reconnection before a TimeoutError. @default 5000 */
  jetStreamTimeoutMs?: number;
  /**
   * Time of this client's timeouts (requests, waits for a reconnection) and, when the bus
   * makes its own broker, of that broker's bucket TTLs, stream ages, stored times and ack
   * waits: with a FakeClock, leases expire and messages are redelivered only when the test
   * advances it. A broker passed in keeps its own clock (`new MemoryBroker({ clock })`).
   * @default the real clock
   */
  clock?: Clock;
}

/** A bus that lives inside this process. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  /** The broker this client is connected to. */
  readonly broker: MemoryBroker;
  readonly #jsTimeoutMs: number;
  readonly #clock: Clock;
  #state: 'connected' | 'disconnected' | 'closed' = 'connected';
  #reconnects = 0;
  #dropped = 0;
  readonly #listeners = new Set<(e: BusEvent) => void>();
  readonly #resources = new Set<() => void | Promise<void>>();
  /** Consumers are stopped first on close, so none takes a new message while in-flight ones finish. */
  readonly #consumers = new Set<() => Promise<void>>();
  readonly #reconnectHooks = new Set<() => void>();
  readonly #hooks: MemoryClientHooks;

  constructor(options: MemoryBusOptions = {}) {
    this.broker = options.broker ?? new MemoryBroker(options.clock ? { clock: options.clock } : {});
    this.#clock = options.clock ?? systemClock;
    this.#jsTimeoutMs = options.jetStreamTimeoutMs ?? 5000;
    this.#hooks = {
      live: () => this.#state === 'connected',
      gate: (op, timeoutMs) => this.#gate(op, timeoutMs ?? this.#jsTimeoutMs),
      track: (stop) => this.#track(stop),
      onReconnect: (fn) => {
        this.#reconnectHooks.add(fn);
        return () => this.#reconnectHooks.delete(fn);
      },
      reportError: (err) => this.#emit({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) }),
    };
  }

  #emit(e: BusEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #track(stop: () => void | Promise<void>): () => void {
    this.#resources.add(stop);
    return () => this.#resources.delete(stop);
  }

  #checkOpen(op: string): void {
    if (this.#state === 'closed') throw new NotConnectedError(op);
  }

  /** Resolves once connected; waits up to `timeoutMs` for a reconnection. */
  async #gate(op: string, timeoutMs: number): Promise<void> {
    this.#checkOpen(op);
    if (this.#state === 'connected') return;
    await new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        off();
        reject(new TimeoutError(op, timeoutMs));
      }, timeoutMs);
      const off = this.#hooks.onReconnect(() => {
        this.#clock.clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  publish(subject: string, data: Uint8Array, options: { headers?: Headers } = {}): void {
    assertSubject(subject, false);
    this.#checkOpen('publish');
    if (this.#state !== 'connected') {
      this.#dropped += 1; // docs/spec.md §12 Known pitfalls: never delivered late
      return;
    }
    const headers = options.headers ?? {};
    this.broker.route(subject, data, headers);
    try {
      this.broker.capture(subject, data, headers);
    } catch (err) {
      // as on NATS: a core publish a stream refuses is just not stored
      if (!(err instanceof StreamRefusedError)) throw err;
    }
  }

  subscribe(subject: string, handler: (msg: BusMsg) => void, options: SubscribeOptions = {}): Subscription {
    assertSubject(subject, true);
    if (options.queue !== undefined) assertQueueName(options.queue);
    this.#checkOpen('subscribe');
    let active = true;
    const sub: BrokerSub = {
      subject,
      queue: options.queue,
      live: () => active && this.#state === 'connected',
      deliver: (m) => {
        if (!sub.live()) return;
        const msg: BusMsg = { ...m, respond: (d, h) => this.#respond(m.reply, d, h) };
        try {
          handler(msg);
        } catch (err) {
          this.#hooks.reportError(err);
        }
      },
    };
    const unsubscribe = () => {
      active = false;
      this.broker.removeSub(sub);
      untrack();
    };
    const untrack = this.#track(unsubscribe);
    this.broker.addSub(sub);
    return { subject, unsubscribe };
  }

  #respond(reply: string | undefined, data: Uint8Array, headers?: Headers): boolean {
    if (!reply || this.#state === 'closed') return false;
    this.publish(reply, data, { headers });
    return true;
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<BusMsg> {
    assertSubject(subject, false);
    const timeoutMs = options.timeoutMs ?? 2000;
    const started = this.#clock.now();
    await this.#gate(`request on '${subject}'`, timeoutMs);
    const inbox = `_INBOX.${randomUUID().replace(/-/g, '')}`;
    return new Promise<BusMsg>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => {
          sub.unsubscribe();
          reject(new TimeoutError(subject, timeoutMs));
        },
        Math.max(0, timeoutMs - (this.#clock.now() - started)),
      );
      const sub = this.subscribe(inbox, (m) => {
        this.#clock.clearTimeout(timer);
        sub.unsubscribe();
        resolve(m);
      });
      if (this.broker.route(subject, data, options.headers ?? {}, inbox) === 0) {
        this.#clock.clearTimeout(timer);
        sub.unsubscribe();
        reject(new NoRespondersError(subject));
      }
    });
  }

  async flush(): Promise<void> {
    await this.#gate('flush', this.#jsTimeoutMs);
    await new Promise<void>((r) => this.broker.enqueue(r));
  }

  async kv(bucket: string, options: KvBucketOptions = {}): Promise<KvBucket> {
    assertJetStreamName(bucket);
    if (options.replicas !== undefined) assertReplicas(options.replicas);
    await this.#gate(`kv '${bucket}'`, this.#jsTimeoutMs);
    const store = this.broker.bucket(bucket, options);
    if (!store) throw new JetStreamNotFoundError('bucket', bucket);
    return new MemoryKvBucket(store, this.#hooks, options.timeoutMs);
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    assertJetStreamName(config.name);
    config.subjects.forEach((s) => assertSubject(s, true));
    await this.#gate(`ensureStream '${config.name}'`, this.#jsTimeoutMs);
    this.broker.ensureStream(config);
  }

  async publishDurable(
    subject: string,
    data: Uint8Array,
    options: DurablePublishOptions = {},
  ): Promise<DurablePublishResult> {
    assertSubject(subject, false);
    const timeoutMs = options.timeoutMs ?? 5000;
    const started = this.#clock.now();
    await this.#gate(`publishDurable on '${subject}'`, timeoutMs);
    const headers = options.msgId ? { ...options.headers, [MSG_ID_HEADER]: options.msgId } : { ...options.headers };
    const delivered = this.broker.route(subject, data, headers);
    const stored = this.broker.capture(subject, data, headers);
    await new Promise((r) => setImmediate(r));
    if (stored) return { stream: stored.stream.config.name, seq: stored.seq, duplicate: stored.duplicate };
    if (delivered === 0) throw new NoRespondersError(subject);
    // No stream, but core subscribers got it as a request and none answers: as on NATS, a timeout.
    await new Promise<void>((r) => this.#clock.setTimeout(r, Math.max(0, timeoutMs - (this.#clock.now() - started))));
    throw new TimeoutError(subject, timeoutMs);
  }

  async consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Promise<Consumer> {
    assertJetStreamName(options.durable);
    if (options.filterSubject !== undefined) assertSubject(options.filterSubject, true);
    await this.#gate(`consume '${options.stream}'`, this.#jsTimeoutMs);
    const stream = this.broker.stream(options.stream);
    if (!stream) throw new JetStreamNotFoundError('stream', options.stream);
    const durable = stream.durable(options);
    const attached = durable.attach(handler, this.#hooks.live, this.#hooks.reportError);
    const offReconnect = this.#hooks.onReconnect(() => durable.pump());
    const stop = async () => {
      offReconnect();
      this.#consumers.delete(stop);
      await attached.stop();
    };
    this.#consumers.add(stop);
    return { stop };
  }

  async readStream(options: ReadStreamOptions): Promise<StoredMsg[]> {
    await this.#gate(`readStream '${options.stream}'`, this.#jsTimeoutMs);
    const stream = this.broker.stream(options.stream);
    if (!stream) throw new JetStreamNotFoundError('stream', options.stream);
    return stream.read(options);
  }

  async streamState(stream: string): Promise<StreamState> {
    return (await this.#stream(`streamState '${stream}'`, stream)).state();
  }

  async getStreamMsg(stream: string, query: StreamMsgQuery): Promise<StoredMsg | undefined> {
    return (await this.#stream(`getStreamMsg '${stream}'`, stream)).get(query);
  }

  async listConsumers(stream: string): Promise<ConsumerState[]> {
    return (await this.#stream(`listConsumers '${stream}'`, stream)).consumers();
  }

  async deleteConsumer(stream: string, name: string): Promise<boolean> {
    assertJetStreamName(name);
    return (await this.#stream(`deleteConsumer '${stream}'`, stream)).deleteDurable(name);
  }

  async #stream(operation: string, name: string): Promise<MemoryStream> {
    await this.#gate(operation, this.#jsTimeoutMs);
    const stream = this.broker.stream(name);
    if (!stream) throw new JetStreamNotFoundError('stream', name);
    return stream;
  }

  status(): BusStatus {
    return { connected: this.#state === 'connected', reconnects: this.#reconnects, dropped: this.#dropped };
  }

  onStatus(listener: (event: BusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  dropConnection(): void {
    if (this.#state !== 'connected') return;
    // Nothing is buffered per connection here: lose it, and come back on the next turn.
    this.simulateDisconnect();
    setImmediate(() => this.simulateReconnect());
  }

  /** Test hook: loses the connection. Publishes are dropped, nothing is delivered to this client. */
  simulateDisconnect(): void {
    if (this.#state !== 'connected') return;
    this.#state = 'disconnected';
    this.#emit({ type: 'disconnect' });
  }

  /** Test hook: the connection is back. Watchers catch up; consumers resume. */
  simulateReconnect(): void {
    if (this.#state !== 'disconnected') return;
    this.#state = 'connected';
    this.#reconnects += 1;
    this.#emit({ type: 'reconnect' });
    for (const fn of [...this.#reconnectHooks]) fn();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const consumersStopped = Promise.all([...this.#consumers].map((stop) => stop()));
    // deliver what is in flight
    if (this.#state === 'connected') await new Promise<void>((r) => this.broker.enqueue(r));
    this.#state = 'closed';
    await consumersStopped;
    await Promise.all([...this.#resources].map((stop) => stop()));
    this.#resources.clear();
    this.#reconnectHooks.clear();
    this.#emit({ type: 'closed' });
    this.#listeners.clear();
  }
}
