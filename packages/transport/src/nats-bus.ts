/**
 * Bus over nats.js v3 on a real nats-server: core pub/sub and request, JetStream KV, streams
 * and durable pull consumers.
 */
import { connect, errors as natsErrors, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type {
  Bus,
  BusEvent,
  BusMsg,
  BusStatus,
  Consumer,
  ConsumeOptions,
  DurableMsg,
  DurablePublishOptions,
  DurablePublishResult,
  Headers,
  KvBucket,
  KvBucketOptions,
  ReadStreamOptions,
  RequestOptions,
  StoredMsg,
  StreamConfig,
  SubscribeOptions,
  Subscription,
} from './bus.js';
import { MSG_ID_HEADER } from './bus.js';
import { NoRespondersError, NotConnectedError, TimeoutError, TransportError } from './errors.js';
import { openNatsKv } from './nats-kv.js';
import { natsConnectOptions, type NatsConfig } from './nats-options.js';
import { natsConsume, natsEnsureStream, natsReadStream } from './nats-streams.js';
import { assertSubject } from './subjects.js';

/** Converts our headers to nats.js headers (names kept exactly). */
export function toNatsHeaders(h: Headers | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const keys = Object.keys(h);
  if (keys.length === 0) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, h[k]!);
  return out;
}

/** Converts nats.js headers to a plain record (first value of each name). */
export function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of h) if (v.length > 0) out[k] = v[0]!;
  return out;
}

function toBusMsg(m: Msg): BusMsg {
  return {
    subject: m.subject,
    data: m.data,
    headers: fromNatsHeaders(m.headers),
    reply: m.reply || undefined,
    respond: (data, headers) => m.respond(data, { headers: toNatsHeaders(headers) }),
  };
}

/** A bus on a real nats-server. */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  #jsm: Promise<JetStreamManager> | undefined;
  #connected = true;
  #reconnects = 0;
  #listeners = new Set<(e: BusEvent) => void>();
  #owned: boolean;
  #closed = false;

  private constructor(nc: NatsConnection, owned: boolean) {
    this.nc = nc;
    this.#owned = owned;
    this.js = jetstream(nc);
    void this.#watchStatus();
  }

  /** Connects with the project's defaults (unlimited reconnects, 5 s pings). */
  static async connect(config: NatsConfig = {}): Promise<NatsBus> {
    const nc = await connect(natsConnectOptions(config));
    return new NatsBus(nc, true);
  }

  /** Wraps a connection made by the caller; close() then leaves it open. */
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

  jsm(): Promise<JetStreamManager> {
    this.#jsm ??= jetstreamManager(this.nc);
    return this.#jsm;
  }

  publish(subject: string, data: Uint8Array, options: { headers?: Headers } = {}): void {
    assertSubject(subject, false);
    if (this.#closed || this.nc.isClosed()) throw new NotConnectedError('publish');
    this.nc.publish(subject, data, { headers: toNatsHeaders(options.headers) });
  }

  subscribe(subject: string, handler: (msg: BusMsg) => void, options: SubscribeOptions = {}): Subscription {
    assertSubject(subject, true);
    if (this.#closed || this.nc.isClosed()) throw new NotConnectedError('subscribe');
    const sub = this.nc.subscribe(subject, {
      queue: options.queue,
      callback: (err, m) => {
        if (!err) handler(toBusMsg(m));
      },
    });
    return { subject, unsubscribe: () => sub.unsubscribe() };
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<BusMsg> {
    assertSubject(subject, false);
    const timeoutMs = options.timeoutMs ?? 2000;
    try {
      const m = await this.nc.request(subject, data, { timeout: timeoutMs, headers: toNatsHeaders(options.headers) });
      return toBusMsg(m);
    } catch (err) {
      throw mapRequestError(err, subject, timeoutMs);
    }
  }

  async flush(): Promise<void> {
    await this.nc.flush();
  }

  kv(bucket: string, options: KvBucketOptions = {}): Promise<KvBucket> {
    return openNatsKv(this.nc, bucket, options);
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    await natsEnsureStream(await this.jsm(), config);
  }

  async publishDurable(subject: string, data: Uint8Array, options: DurablePublishOptions = {}): Promise<DurablePublishResult> {
    assertSubject(subject, false);
    const timeoutMs = options.timeoutMs ?? 5000;
    const headers = options.msgId ? { ...options.headers, [MSG_ID_HEADER]: options.msgId } : options.headers;
    try {
      const ack = await this.js.publish(subject, data, { headers: toNatsHeaders(headers), timeout: timeoutMs });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw mapRequestError(err, subject, timeoutMs);
    }
  }

  async consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Promise<Consumer> {
    return natsConsume(this.js, await this.jsm(), options, handler);
  }

  async readStream(options: ReadStreamOptions): Promise<StoredMsg[]> {
    return natsReadStream(this.js, await this.jsm(), options);
  }

  status(): BusStatus {
    return { connected: this.#connected && !this.nc.isClosed(), reconnects: this.#reconnects };
  }

  onStatus(listener: (event: BusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    if (!this.#owned || this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }
}

/** Maps nats.js request failures onto our typed errors. */
export function mapRequestError(err: unknown, subject: string, timeoutMs: number): Error {
  if (err instanceof natsErrors.NoRespondersError || causeSays(err, /no responders/i)) {
    return new NoRespondersError(subject, { cause: err });
  }
  if (err instanceof natsErrors.TimeoutError || (err instanceof Error && err.cause instanceof natsErrors.TimeoutError)) {
    return new TimeoutError(subject, timeoutMs, { cause: err });
  }
  if (err instanceof natsErrors.ClosedConnectionError || err instanceof natsErrors.DrainingConnectionError) {
    return new NotConnectedError(`request on '${subject}'`, { cause: err });
  }
  return new TransportError(`request on '${subject}'`, err instanceof Error ? err.message : String(err), { cause: err });
}

/** True when the error or one of its causes has a message matching `re`. */
function causeSays(err: unknown, re: RegExp): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof natsErrors.NoRespondersError || re.test(e.message)) return true;
  }
  return false;
}
