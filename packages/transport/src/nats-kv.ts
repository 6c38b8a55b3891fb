/** KvBucket over JetStream KV (@nats-io/kv). */
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KvBucket, KvBucketOptions, KvEntry, KvWatchEvent } from './bus.js';
import { KvConflictError, TransportError } from './errors.js';
import { assertJetStreamName } from './subjects.js';

const CONFLICT = /wrong last sequence|key exists|10071/i;

/** Opens (creating when absent) a KV bucket. */
export async function openNatsKv(nc: NatsConnection, bucket: string, options: KvBucketOptions): Promise<KvBucket> {
  assertJetStreamName(bucket);
  const kvm = new Kvm(nc);
  let kv: KV;
  try {
    kv = await kvm.create(bucket, { ttl: options.ttlMs ?? 0, history: options.history ?? 1 });
  } catch (err) {
    // Exists with another configuration: use it as it is.
    try {
      kv = await kvm.open(bucket);
    } catch {
      throw new TransportError(`open KV bucket '${bucket}'`, (err as Error).message, { cause: err });
    }
  }
  return new NatsKvBucket(bucket, kv);
}

class NatsKvBucket implements KvBucket {
  constructor(
    readonly name: string,
    private readonly kv: KV,
  ) {}

  async get(key: string): Promise<KvEntry | null> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT') return null;
    return { key: e.key, value: e.value, revision: e.revision, created: e.created.getTime() };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      if (CONFLICT.test(String((err as Error).message))) throw new KvConflictError(this.name, key, undefined, { cause: err });
      throw err;
    }
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    try {
      return await this.kv.update(key, value, expectedRevision);
    } catch (err) {
      if (CONFLICT.test(String((err as Error).message))) throw new KvConflictError(this.name, key, expectedRevision, { cause: err });
      throw err;
    }
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.kv.put(key, value);
  }

  async delete(key: string, options: { expectedRevision?: number } = {}): Promise<void> {
    try {
      await this.kv.delete(key, options.expectedRevision === undefined ? undefined : { previousSeq: options.expectedRevision });
    } catch (err) {
      if (CONFLICT.test(String((err as Error).message))) throw new KvConflictError(this.name, key, options.expectedRevision, { cause: err });
      throw err;
    }
  }

  async watch(key: string, cb: (event: KvWatchEvent) => void): Promise<{ stop(): void }> {
    const iter = await this.kv.watch({ key, include: KvWatchInclude.LastValue });
    void (async () => {
      for await (const e of iter) {
        if (e.operation === 'PUT') cb({ key: e.key, operation: 'put', value: e.value, revision: e.revision });
        else cb({ key: e.key, operation: 'delete', value: e.value, revision: e.revision });
      }
    })();
    return { stop: () => iter.stop() };
  }

  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys()) out.push(k);
    return out.sort();
  }
}
