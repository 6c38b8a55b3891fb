/**
 * The in-process twin of NatsBus, for the embedded `backbeat dev` mode and unit tests. It
 * behaves like nats-server for everything it offers: subject rules and wildcards, queue
 * groups, asynchronous delivery in publish order, echo to the publisher, no-responders,
 * KV compare-and-set with per-bucket revisions and bucket TTL, streams with de-duplication
 * and durable consumers. The conformance suite checks both against the same tests.
 */
import { randomUUID } from 'node:crypto';
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
import { MemoryKvBucket } from './memory-kv.js';
import { MemoryStream } from './memory-streams.js';
import { assertJetStreamName, assertSubject, subjectMatches } from './subjects.js';

interface Sub {
  readonly subject: string;
  readonly queue?: string;
  readonly handler: (msg: BusMsg) => void;
  active: boolean;
}

/** Largest payload nats-server accepts by default (max_payload). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** A bus that lives inside this process. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  #subs = new Set<Sub>();
  #queue: Array<() => void> = [];
  #flushing = false;
  #closed = false;
  #buckets = new Map<string, MemoryKvBucket>();
  #streams = new Map<string, MemoryStream>();
  #listeners = new Set<(e: BusEvent) => void>();
  #rr = new Map<string, number>();

  /** Delivers queued messages in publish order, asynchronously like a network would. */
  #enqueue(task: () => void): void {
    this.#queue.push(task);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      const batch = this.#queue;
      this.#queue = [];
      this.#flushing = false;
      for (const t of batch) {
        try {
          t();
        } catch (err) {
          for (const l of this.#listeners) l({ type: 'error', error: err as Error });
        }
      }
    });
  }

  #checkOpen(op: string): void {
    if (this.#closed) throw new NotConnectedError(op);
  }

  /** Routes a message to subscribers (one per queue group) and to capturing streams. */
  #route(subject: string, data: Uint8Array, headers: Headers, reply?: string): { delivered: number } {
    if (data.length > DEFAULT_MAX_PAYLOAD) throw new TransportError('publish', `payload of ${data.length} bytes exceeds max_payload ${DEFAULT_MAX_PAYLOAD}`);
    const plain: Sub[] = [];
    const groups = new Map<string, Sub[]>();
    for (const s of this.#subs) {
      if (!s.active || !subjectMatches(s.subject, subject)) continue;
      if (s.queue === undefined) plain.push(s);
      else groups.set(s.queue, [...(groups.get(s.queue) ?? []), s]);
    }
    for (const [q, members] of groups) {
      const i = (this.#rr.get(q) ?? 0) % members.length;
      this.#rr.set(q, i + 1);
      plain.push(members[i]!);
    }
    const copy = data.slice();
    const frozen = Object.freeze({ ...headers });
    for (const s of plain) {
      this.#enqueue(() => {
        if (!s.active) return;
        s.handler({
          subject,
          data: copy,
          headers: frozen,
          reply,
          respond: (d, h) => {
            if (!reply || this.#closed) return false;
            this.publish(reply, d, { headers: h });
            return true;
          },
        });
      });
    }
    return { delivered: plain.length };
  }

  #capture(subject: string, data: Uint8Array, headers: Headers): { stream: MemoryStream; seq: number; duplicate: boolean } | undefined {
    for (const stream of this.#streams.values()) {
      if (stream.captures(subject)) return { stream, ...stream.store(subject, data, headers) };
    }
    return undefined;
  }

  publish(subject: string, data: Uint8Array, options: { headers?: Headers } = {}): void {
    assertSubject(subject, false);
    this.#checkOpen('publish');
    this.#route(subject, data, options.headers ?? {});
    this.#capture(subject, data, options.headers ?? {});
  }

  subscribe(subject: string, handler: (msg: BusMsg) => void, options: SubscribeOptions = {}): Subscription {
    assertSubject(subject, true);
    this.#checkOpen('subscribe');
    const sub: Sub = { subject, queue: options.queue, handler, active: true };
    this.#subs.add(sub);
    return {
      subject,
      unsubscribe: () => {
        sub.active = false;
        this.#subs.delete(sub);
      },
    };
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<BusMsg> {
    assertSubject(subject, false);
    this.#checkOpen('request');
    const timeoutMs = options.timeoutMs ?? 2000;
    const inbox = `_INBOX.${randomUUID().replace(/-/g, '')}`;
    return new Promise<BusMsg>((resolve, reject) => {
      const sub = this.subscribe(inbox, (m) => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(m);
      });
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new TimeoutError(subject, timeoutMs));
      }, timeoutMs);
      const { delivered } = this.#route(subject, data, options.headers ?? {}, inbox);
      if (delivered === 0) {
        clearTimeout(timer);
        sub.unsubscribe();
        reject(new NoRespondersError(subject));
      }
    });
  }

  async flush(): Promise<void> {
    this.#checkOpen('flush');
    await new Promise((r) => setImmediate(r));
  }

  async kv(bucket: string, options: KvBucketOptions = {}): Promise<KvBucket> {
    assertJetStreamName(bucket);
    this.#checkOpen('kv');
    let b = this.#buckets.get(bucket);
    if (!b) {
      b = new MemoryKvBucket(bucket, options);
      this.#buckets.set(bucket, b);
    }
    return b;
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    assertJetStreamName(config.name);
    config.subjects.forEach((s) => assertSubject(s, true));
    this.#checkOpen('ensureStream');
    for (const other of this.#streams.values()) {
      if (other.config.name === config.name) continue;
      const overlap = config.subjects.some((s) => other.config.subjects.some((o) => subjectMatches(o, s) || subjectMatches(s, o)));
      if (overlap) throw new TransportError('ensureStream', `subjects overlap with stream '${other.config.name}'`);
    }
    const existing = this.#streams.get(config.name);
    if (existing) existing.config = config;
    else this.#streams.set(config.name, new MemoryStream(config));
  }

  async publishDurable(subject: string, data: Uint8Array, options: DurablePublishOptions = {}): Promise<DurablePublishResult> {
    assertSubject(subject, false);
    this.#checkOpen('publishDurable');
    const headers = options.msgId ? { ...options.headers, [MSG_ID_HEADER]: options.msgId } : { ...options.headers };
    this.#route(subject, data, headers);
    const stored = this.#capture(subject, data, headers);
    await new Promise((r) => setImmediate(r));
    if (!stored) throw new NoRespondersError(subject);
    return { stream: stored.stream.config.name, seq: stored.seq, duplicate: stored.duplicate };
  }

  async consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Promise<Consumer> {
    this.#checkOpen('consume');
    const stream = this.#streams.get(options.stream);
    if (!stream) throw new TransportError('consume', `stream '${options.stream}' not found`);
    return stream.consume(options, handler);
  }

  async readStream(options: ReadStreamOptions): Promise<StoredMsg[]> {
    this.#checkOpen('readStream');
    const stream = this.#streams.get(options.stream);
    if (!stream) throw new TransportError('readStream', `stream '${options.stream}' not found`);
    return stream.read(options);
  }

  status(): BusStatus {
    return { connected: !this.#closed, reconnects: 0 };
  }

  onStatus(listener: (event: BusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await new Promise((r) => setImmediate(r));
    this.#closed = true;
    for (const s of this.#subs) s.active = false;
    this.#subs.clear();
    for (const s of this.#streams.values()) s.close();
    this.#listeners.clear();
  }
}
