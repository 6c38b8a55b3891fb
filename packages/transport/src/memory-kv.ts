/**
 * In-process KV with the semantics of JetStream KV: one revision sequence per bucket across
 * all keys, deletes as markers, compare-and-set on the last revision, a bucket-level TTL, and
 * no watch event when an entry expires (docs/spec.md §12 Known pitfalls), unless the bucket
 * has limit markers (nats-server 2.11.7+): then an expiry writes a delete marker with a
 * revision of its own, which watchers see.
 */
import type { Clock, TimerHandle } from '@backbeat/core';
import type { KvBucket, KvBucketOptions, KvBucketSettings, KvEntry, KvWatchEvent } from './kv-types.js';
import { assertKvKey, assertRevision } from './kv-types.js';
import { KvConflictError } from './errors.js';
import { subjectMatches } from './subjects.js';

interface Stored {
  readonly value: Uint8Array;
  readonly revision: number;
  readonly created: number;
  readonly op: 'put' | 'delete';
}

/** What a KV handle needs from the MemoryBus it belongs to. */
export interface MemoryClientHooks {
  /** True while the client is connected. */
  live(): boolean;
  /** Resolves once the client may talk to the broker. @throws NotConnectedError, TimeoutError */
  gate(operation: string, timeoutMs?: number): Promise<void>;
  /** Registers a resource the client stops when it closes; returns the unregister function. */
  track(stop: () => void): () => void;
  /** Calls `fn` after every reconnection; returns the unregister function. */
  onReconnect(fn: () => void): () => void;
  /** Reports an error thrown by user code (a handler or callback) as an `error` event. */
  reportError(err: unknown): void;
}

interface Watcher {
  readonly pattern: string;
  readonly live: () => boolean;
  readonly cb: (e: KvWatchEvent) => void;
  lastRevision: number;
  stopped: boolean;
}

/** A bucket's data, shared by every client of the broker. */
export class MemoryKvStore {
  readonly name: string;
  readonly ttlMs: number;
  readonly history: number;
  /** Copies as asked (the in-memory bus keeps one; it reports the option as NATS would). */
  replicas: number;
  /** How long a limit marker is kept; 0: expiry is silent. */
  markerTtlMs: number;
  #seq = 0;
  /** Per key, the timer that writes its limit marker at expiry. */
  readonly #expiries = new Map<string, TimerHandle>();
  readonly #entries = new Map<string, Stored>();
  readonly #watchers = new Set<Watcher>();
  readonly #enqueue: (task: () => void) => void;
  readonly #clock: Clock;

  /** @param clock its wallNow() stamps entries and expires them by the bucket TTL */
  constructor(name: string, options: KvBucketOptions, enqueue: (task: () => void) => void, clock: Clock) {
    this.name = name;
    this.ttlMs = options.ttlMs ?? 0;
    this.history = options.history ?? 1;
    this.replicas = options.replicas ?? 1;
    this.markerTtlMs = this.ttlMs > 0 ? Math.max(0, options.markerTtlMs ?? 0) : 0;
    this.#enqueue = enqueue;
    this.#clock = clock;
  }

  /** The key's last entry (value or delete marker), unless it expired by the bucket TTL. */
  #last(key: string): Stored | undefined {
    const e = this.#entries.get(key);
    if (e && this.ttlMs > 0 && this.#clock.wallNow() - e.created >= this.ttlMs) {
      if (this.markerTtlMs > 0 && e.op === 'put') return this.#expire(key, e.revision);
      this.#entries.delete(key); // expiry is silent: no watch event, as on nats-server 2.9
      return undefined;
    }
    return e;
  }

  /** Writes the limit marker of an expired value (when it is still the key's last entry). */
  #expire(key: string, revision: number): Stored | undefined {
    const e = this.#entries.get(key);
    if (e?.revision !== revision || e.op !== 'put') return e;
    this.#write(key, new Uint8Array(0), 'delete');
    return this.#entries.get(key);
  }

  /** With limit markers, the marker is written when the value's TTL ends, read or not. */
  #armExpiry(key: string, revision: number): void {
    const previous = this.#expiries.get(key);
    if (previous !== undefined) this.#clock.clearTimeout(previous);
    const timer = this.#clock.setTimeout(() => {
      this.#expiries.delete(key);
      this.#expire(key, revision);
    }, this.ttlMs);
    // The store may outlive every client: its timers never hold the process open.
    (timer as { unref?: () => void }).unref?.();
    this.#expiries.set(key, timer);
  }

  #notify(w: Watcher, event: KvWatchEvent): void {
    this.#enqueue(() => {
      if (w.stopped || !w.live() || event.revision <= w.lastRevision) return;
      w.lastRevision = event.revision;
      w.cb(event);
    });
  }

  #write(key: string, value: Uint8Array, op: 'put' | 'delete'): number {
    const revision = ++this.#seq;
    const stored: Stored = { value: value.slice(), revision, created: this.#clock.wallNow(), op };
    this.#entries.set(key, stored);
    if (this.markerTtlMs > 0 && op === 'put') this.#armExpiry(key, revision);
    for (const w of this.#watchers) if (subjectMatches(w.pattern, key)) this.#notify(w, toEvent(key, stored));
    return revision;
  }

  /** The live value, or null. */
  get(key: string): KvEntry | null {
    const e = this.#last(key);
    return e && e.op === 'put' ? { key, value: e.value.slice(), revision: e.revision, created: e.created } : null;
  }

  /** Writes when the key has no live value. @throws KvConflictError */
  create(key: string, value: Uint8Array): number {
    if (this.#last(key)?.op === 'put') throw new KvConflictError(this.name, key);
    return this.#write(key, value, 'put');
  }

  /** Writes when the key is at `expectedRevision`. @throws KvConflictError */
  update(key: string, value: Uint8Array, expectedRevision: number): number {
    if ((this.#last(key)?.revision ?? 0) !== expectedRevision)
      throw new KvConflictError(this.name, key, expectedRevision);
    return this.#write(key, value, 'put');
  }

  /** Writes unconditionally. */
  put(key: string, value: Uint8Array): number {
    return this.#write(key, value, 'put');
  }

  /** Writes a delete marker. @throws KvConflictError on a revision mismatch */
  delete(key: string, expectedRevision?: number): void {
    if (expectedRevision !== undefined && (this.#last(key)?.revision ?? 0) !== expectedRevision) {
      throw new KvConflictError(this.name, key, expectedRevision);
    }
    this.#write(key, new Uint8Array(0), 'delete');
  }

  /** Keys with a live value, sorted. */
  keys(): string[] {
    return [...this.#entries.keys()].filter((k) => this.#last(k)?.op === 'put').sort();
  }

  /** Sends every matching live entry newer than what the watcher saw, oldest first. */
  catchUp(w: Watcher): void {
    const newer = [...this.#entries.keys()]
      .filter((k) => subjectMatches(w.pattern, k))
      .flatMap((k) => {
        const e = this.#last(k);
        return e && e.revision > w.lastRevision ? [toEvent(k, e)] : [];
      })
      .sort((a, b) => a.revision - b.revision);
    for (const event of newer) this.#notify(w, event);
  }

  /** Starts a watcher: current entries first, then every change. */
  watch(pattern: string, cb: (e: KvWatchEvent) => void, live: () => boolean): { watcher: Watcher; stop(): void } {
    const watcher: Watcher = { pattern, cb, live, lastRevision: 0, stopped: false };
    this.catchUp(watcher);
    this.#watchers.add(watcher);
    return {
      watcher,
      stop: () => {
        watcher.stopped = true;
        this.#watchers.delete(watcher);
      },
    };
  }
}

function toEvent(key: string, e: Stored): KvWatchEvent {
  return { key, operation: e.op, value: e.value.slice(), revision: e.revision, created: e.created };
}

/** One client's handle on a bucket. */
export class MemoryKvBucket implements KvBucket {
  readonly name: string;
  readonly #store: MemoryKvStore;
  readonly #client: MemoryClientHooks;

  readonly #timeoutMs: number | undefined;

  constructor(store: MemoryKvStore, client: MemoryClientHooks, timeoutMs?: number) {
    this.name = store.name;
    this.#store = store;
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  async #ready(op: string, key: string): Promise<void> {
    assertKvKey(key);
    await this.#client.gate(`kv ${op} '${this.name}'`, this.#timeoutMs);
  }

  async get(key: string): Promise<KvEntry | null> {
    await this.#ready('get', key);
    return this.#store.get(key);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    await this.#ready('create', key);
    return this.#store.create(key, value);
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    assertRevision(expectedRevision);
    await this.#ready('update', key);
    return this.#store.update(key, value, expectedRevision);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    await this.#ready('put', key);
    return this.#store.put(key, value);
  }

  async delete(key: string, options: { expectedRevision?: number } = {}): Promise<void> {
    await this.#ready('delete', key);
    this.#store.delete(key, options.expectedRevision);
  }

  async watch(key: string, cb: (event: KvWatchEvent) => void): Promise<{ stop(): void }> {
    assertKvKey(key, true);
    await this.#client.gate(`kv watch '${this.name}'`);
    const safe = (e: KvWatchEvent) => {
      try {
        cb(e);
      } catch (err) {
        this.#client.reportError(err);
      }
    };
    const w = this.#store.watch(key, safe, () => this.#client.live());
    const offReconnect = this.#client.onReconnect(() => this.#store.catchUp(w.watcher));
    const stop = () => {
      w.stop();
      offReconnect();
      untrack();
    };
    const untrack = this.#client.track(stop);
    return { stop };
  }

  async keys(): Promise<string[]> {
    await this.#client.gate(`kv keys '${this.name}'`);
    return this.#store.keys();
  }

  async settings(): Promise<KvBucketSettings> {
    await this.#client.gate(`kv status '${this.name}'`);
    return {
      ttlMs: this.#store.ttlMs,
      history: this.#store.history,
      replicas: this.#store.replicas,
      markerTtlMs: this.#store.markerTtlMs,
    };
  }
}
