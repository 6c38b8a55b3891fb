/**
 * In-process KV bucket with the semantics of JetStream KV on nats-server 2.9: one revision
 * sequence per bucket across all keys, deletes as markers, compare-and-set on the last
 * revision, a bucket-level TTL, and no watch event when an entry expires.
 */
import type { KvBucket, KvBucketOptions, KvEntry, KvWatchEvent } from './bus.js';
import { KvConflictError, InvalidSubjectError } from './errors.js';
import { subjectMatches } from './subjects.js';

interface Stored {
  readonly value: Uint8Array;
  readonly revision: number;
  readonly created: number;
  readonly op: 'put' | 'delete';
}

const KEY = /^[-/_=.a-zA-Z0-9]+$/;

/** A KV bucket held in memory. */
export class MemoryKvBucket implements KvBucket {
  readonly name: string;
  readonly ttlMs: number;
  #seq = 0;
  #entries = new Map<string, Stored>();
  #watchers = new Set<{ key: string; cb: (e: KvWatchEvent) => void }>();

  constructor(name: string, options: KvBucketOptions) {
    this.name = name;
    this.ttlMs = options.ttlMs ?? 0;
  }

  /** The key's last stored entry (put or delete marker), unless it expired. */
  #last(key: string): Stored | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (this.ttlMs > 0 && Date.now() - e.created >= this.ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  #write(key: string, value: Uint8Array, op: 'put' | 'delete'): number {
    const revision = ++this.#seq;
    this.#entries.set(key, { value: value.slice(), revision, created: Date.now(), op });
    const event: KvWatchEvent = { key, operation: op, value, revision };
    for (const w of this.#watchers) {
      if (w.key === key || subjectMatches(w.key, key)) setImmediate(() => w.cb(event));
    }
    return revision;
  }

  async get(key: string): Promise<KvEntry | null> {
    checkKey(key);
    const e = this.#last(key);
    return e && e.op === 'put' ? { key, value: e.value.slice(), revision: e.revision, created: e.created } : null;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    const e = this.#last(key);
    if (e && e.op === 'put') throw new KvConflictError(this.name, key);
    return this.#write(key, value, 'put');
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    checkKey(key);
    const e = this.#last(key);
    if ((e?.revision ?? 0) !== expectedRevision) throw new KvConflictError(this.name, key, expectedRevision);
    return this.#write(key, value, 'put');
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    return this.#write(key, value, 'put');
  }

  async delete(key: string, options: { expectedRevision?: number } = {}): Promise<void> {
    checkKey(key);
    if (options.expectedRevision !== undefined && (this.#last(key)?.revision ?? 0) !== options.expectedRevision) {
      throw new KvConflictError(this.name, key, options.expectedRevision);
    }
    this.#write(key, new Uint8Array(0), 'delete');
  }

  async watch(key: string, cb: (event: KvWatchEvent) => void): Promise<{ stop(): void }> {
    let stopped = false;
    const watcher = { key, cb: (e: KvWatchEvent) => stopped || cb(e) };
    // Current values first, as a JetStream watcher with LastValue does.
    const current = [...this.#entries.keys()]
      .filter((k) => k === key || subjectMatches(key, k))
      .map((k) => [k, this.#last(k)] as const)
      .filter((pair): pair is readonly [string, Stored] => pair[1] !== undefined)
      .sort((a, b) => a[1].revision - b[1].revision);
    for (const [k, e] of current) {
      const event: KvWatchEvent = { key: k, operation: e.op, value: e.value, revision: e.revision };
      setImmediate(() => watcher.cb(event));
    }
    this.#watchers.add(watcher);
    return {
      stop: () => {
        stopped = true;
        this.#watchers.delete(watcher);
      },
    };
  }

  async keys(): Promise<string[]> {
    return [...this.#entries.keys()].filter((k) => this.#last(k)?.op === 'put').sort();
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || !KEY.test(key) || key.startsWith('.') || key.endsWith('.')) {
    throw new InvalidSubjectError(String(key), 'KV keys use letters, digits and - / _ = . (not at either end)');
  }
}
