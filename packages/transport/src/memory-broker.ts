/**
 * The in-process broker behind MemoryBus: what nats-server does for its clients. Routes core
 * messages to subscriptions (queue groups get one member each), delivers asynchronously in
 * publish order, and holds the KV buckets and streams every client of the broker shares.
 */
import { createSystemClock, type Clock } from '@backbeat/core';
import type { BusMsg, Headers } from './bus.js';
import { TransportError } from './errors.js';
import { MemoryKvStore } from './memory-kv.js';
import { MemoryStream } from './memory-streams.js';
import type { KvBucketOptions } from './kv-types.js';
import { REPUBLISH_HEADERS, resolveStreamConfig, type StreamConfig } from './stream-types.js';
import { subjectMatches, subjectsOverlap } from './subjects.js';

const defaultClock = createSystemClock({ unrefTimers: true });

/** Largest payload nats-server accepts by default (max_payload). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** A subscription as the broker sees it. */
export interface BrokerSub {
  readonly subject: string;
  readonly queue?: string;
  /** False while its client is disconnected or closed: the broker skips it. */
  live(): boolean;
  /** Hands a message to the client (called asynchronously, in order). */
  deliver(msg: Omit<BusMsg, 'respond'>): void;
}

/**
 * Shared state of every MemoryBus connected to it: subscriptions, KV buckets, streams. Share
 * one broker between buses (`new MemoryBus({ broker })`) to make them see each other.
 */
export class MemoryBroker {
  /** The time every bucket, stream and consumer of this broker reads (TTL, ages, ack waits, stored times). */
  readonly clock: Clock;
  readonly #subs = new Set<BrokerSub>();
  readonly #buckets = new Map<string, MemoryKvStore>();
  readonly #streams = new Map<string, MemoryStream>();
  /** Round-robin position per queue group. */
  readonly #rr = new Map<string, number>();
  #queue: Array<() => void> = [];
  #scheduled = false;

  /**
   * @param options.clock time of the broker's buckets, streams and consumers: a FakeClock
   *   makes bucket TTLs, stream ages and ack waits move only when the test advances it.
   *   @default the real clock, with unref'd timers (a pending redelivery does not hold the process)
   */
  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? defaultClock;
  }

  /** Runs `task` asynchronously, after every task queued before it (one FIFO per broker). */
  enqueue(task: () => void): void {
    this.#queue.push(task);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      const batch = this.#queue;
      this.#queue = [];
      this.#scheduled = false;
      for (const t of batch) {
        try {
          t();
        } catch {
          // Tasks report their own errors (to their client's `error` event); one must not stop the rest.
        }
      }
    });
  }

  /** Registers a client's subscription. */
  addSub(sub: BrokerSub): void {
    this.#subs.add(sub);
  }

  /** Removes a client's subscription; idempotent. */
  removeSub(sub: BrokerSub): void {
    this.#subs.delete(sub);
  }

  /**
   * Routes a message to every live matching subscription, one member per queue group.
   * Returns how many subscriptions it went to.
   * @throws TransportError for a payload over max_payload
   */
  route(subject: string, data: Uint8Array, headers: Headers, reply?: string): number {
    if (data.length > DEFAULT_MAX_PAYLOAD)
      throw new TransportError('publish', `payload of ${data.length} bytes exceeds max_payload ${DEFAULT_MAX_PAYLOAD}`);
    const targets: BrokerSub[] = [];
    const groups = new Map<string, BrokerSub[]>();
    for (const s of this.#subs) {
      if (!s.live() || !subjectMatches(s.subject, subject)) continue;
      if (s.queue === undefined) targets.push(s);
      else groups.set(s.queue, [...(groups.get(s.queue) ?? []), s]);
    }
    for (const [q, members] of groups) {
      const i = (this.#rr.get(q) ?? 0) % members.length;
      this.#rr.set(q, i + 1);
      targets.push(members[i]!);
    }
    if (targets.length === 0) return 0;
    const msg = Object.freeze({ subject, data: data.slice(), headers: Object.freeze({ ...headers }), reply });
    for (const s of targets) this.enqueue(() => s.deliver(msg));
    return targets.length;
  }

  /** Stores the message in the stream capturing `subject`, if any (as nats-server does for any publish). */
  capture(
    subject: string,
    data: Uint8Array,
    headers: Headers,
  ): { stream: MemoryStream; seq: number; duplicate: boolean } | undefined {
    for (const stream of this.#streams.values()) {
      if (!stream.captures(subject)) continue;
      const stored = stream.store(subject, data, headers);
      if (!stored.duplicate) this.#republish(stream, subject, stored.seq);
      return { stream, ...stored };
    }
    return undefined;
  }

  /** A stored message republished as nats-server does (StreamConfig.republish): once, with the stream's headers. */
  #republish(stream: MemoryStream, subject: string, seq: number): void {
    const r = stream.config.republish;
    const m = stream.find(seq);
    if (!r || !m || !subjectMatches(r.source, subject)) return;
    const h = REPUBLISH_HEADERS;
    const added = {
      [h.stream]: stream.config.name,
      [h.subject]: subject,
      [h.sequence]: String(seq),
      [h.timeStamp]: new Date(m.time).toISOString(),
      [h.lastSequence]: String(stream.lastOnSubjectBefore(seq, subject)),
    };
    try {
      this.route(r.destination, m.data, { ...m.headers, ...added });
    } catch {
      // A stored message is at most max_payload: routing it again cannot be refused.
    }
  }

  /**
   * The bucket, created with `options` when absent. An existing bucket keeps its TTL and
   * history; a replica count given is taken (a JetStream cluster allows that change too).
   */
  bucket(name: string, options: KvBucketOptions): MemoryKvStore | undefined {
    let b = this.#buckets.get(name);
    if (!b && options.create !== false) {
      b = new MemoryKvStore(name, options, (t) => this.enqueue(t), this.clock);
      this.#buckets.set(name, b);
    }
    if (b && options.replicas !== undefined) b.replicas = options.replicas;
    // An existing bucket takes limit markers when asked (a stream update on nats-server 2.11.5+).
    if (b && b.ttlMs > 0 && b.markerTtlMs === 0 && options.markerTtlMs !== undefined)
      b.markerTtlMs = Math.max(0, options.markerTtlMs);
    return b;
  }

  /**
   * Creates or updates a stream.
   * @throws TransportError when its subjects overlap another stream's
   */
  ensureStream(config: StreamConfig): void {
    const resolved = resolveStreamConfig(config);
    for (const other of this.#streams.values()) {
      if (other.config.name === resolved.name) continue;
      const overlap = resolved.subjects.some((s) => other.config.subjects.some((o) => subjectsOverlap(o, s)));
      if (overlap)
        throw new TransportError(
          `ensureStream '${resolved.name}'`,
          `subjects overlap with an existing stream '${other.config.name}'`,
        );
    }
    const existing = this.#streams.get(resolved.name);
    if (existing) {
      // Absent settings keep the stream's own, as an update on nats-server does.
      const replicas = resolved.replicas ?? existing.config.replicas;
      const republish = resolved.republish ?? existing.config.republish;
      existing.reconfigure({
        ...resolved,
        ...(replicas === undefined ? {} : { replicas }),
        ...(republish ? { republish } : {}),
      });
    } else this.#streams.set(resolved.name, new MemoryStream(resolved, this.clock));
  }

  /** The stream named `name`, if it exists. */
  stream(name: string): MemoryStream | undefined {
    return this.#streams.get(name);
  }
}
