/** KvBucket over JetStream KV (@nats-io/kv); limit markers where the server has them (2.11.7+). */
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { KvBucket, KvBucketOptions, KvBucketSettings, KvEntry, KvWatchEvent } from './kv-types.js';
import { assertKvKey, assertRevision } from './kv-types.js';
import { TransportError } from './errors.js';
import { createOrFind, whileJustCreated } from './nats-create.js';
import { mapNatsError, type ErrorContext } from './nats-errors.js';
import { lastMsgFirstAnswer } from './nats-last-msg.js';
import { assertReplicasPossible, natsReconcileReplicas, type ReplicaTarget } from './nats-replicas.js';
import { assertJetStreamName } from './subjects.js';

/** What a KV handle needs from the NatsBus it belongs to. */
export interface NatsKvHooks {
  /** Registers a resource stopped when the bus closes; returns the unregister function. */
  track(stop: () => void): () => void;
  /** Reports an error thrown by a watch callback, or a watch that broke. */
  reportError(err: unknown): void;
  /** True when the server is part of a cluster (its INFO names one). */
  clustered(): boolean;
}

/**
 * Opens a KV bucket, creating it when absent unless `create: false`. An existing bucket keeps
 * its TTL and history (that is what Kvm.create does: it binds to the existing stream); with
 * `replicas`, its replica count is brought to that number (see natsReconcileReplicas).
 * @throws JetStreamNotFoundError with `create: false` and no bucket
 * @throws InvalidArgumentError for replicas > 1 on a server that is not clustered
 * @throws ReplicaMismatchError when an existing bucket's replica count cannot be changed
 */
export async function openNatsKv(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  options: KvBucketOptions,
  hooks: NatsKvHooks,
  creator: JetStreamClient = js,
): Promise<KvBucket> {
  assertJetStreamName(bucket);
  const target: ReplicaTarget = { kind: 'bucket', name: bucket, stream: `KV_${bucket}` };
  if (options.replicas !== undefined) assertReplicasPossible(options.replicas, hooks.clustered(), target);
  const ctx: ErrorContext = { operation: `open KV bucket '${bucket}'`, stream: { kind: 'bucket', name: bucket } };
  const kvm = new Kvm(js);
  try {
    let kv: KV;
    if (options.create === false) {
      await jsm.streams.info(target.stream);
      kv = await kvm.open(bucket);
    } else {
      const markerTTL =
        options.markerTtlMs !== undefined && (options.ttlMs ?? 0) > 0 ? Math.max(1000, options.markerTtlMs) : undefined;
      const config = {
        ttl: options.ttlMs ?? 0,
        history: options.history ?? 1,
        replicas: options.replicas ?? 1,
        ...(markerTTL ? { markerTTL } : {}),
      };
      // A concurrent identical create can swallow this one's answer (nats-create.ts): then bind.
      let created: KV | undefined;
      await createOrFind(jsm, target.stream, async () => (created = await new Kvm(creator).create(bucket, config)));
      kv = created ?? (await kvm.open(bucket));
      if (markerTTL) await whileJustCreated(() => ensureLimitMarkers(jsm, target.stream, markerTTL));
    }
    const reconcile = () => natsReconcileReplicas(jsm, target, options.replicas!, hooks.clustered());
    if (options.replicas !== undefined) await (options.create === false ? reconcile() : whileJustCreated(reconcile));
    const reader = options.reads === 'first-answer' ? await js.jetstreamManager(false) : undefined;
    return new NatsKvBucket(bucket, kv, hooks, options.timeoutMs, reader);
  } catch (err) {
    throw mapNatsError(err, ctx);
  }
}

/**
 * Turns limit markers on for a bucket made without them (a stream update, nats-server 2.11.5+):
 * an existing lease bucket then agrees on expiries like a new one. A bucket that has them keeps
 * its marker TTL.
 */
async function ensureLimitMarkers(jsm: JetStreamManager, stream: string, markerTtlMs: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  if (info.config.allow_msg_ttl === true && (info.config.subject_delete_marker_ttl ?? 0) > 0) return;
  try {
    // @nats-io/jetstream 3.3 (the last line whose engines accept Node 20) does not type these two fields of
    // nats-server 2.11+; it sends the config as given.
    const markers = { allow_msg_ttl: true, subject_delete_marker_ttl: nanos(markerTtlMs) };
    await jsm.streams.update(stream, { ...info.config, ...markers } as Parameters<typeof jsm.streams.update>[1]);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TransportError(
      `add limit markers to '${stream}'`,
      `the bucket was made without limit markers and the server refused to add them (${why}): run ` +
        'with --lease-markers off, or delete the bucket so it is made again',
      { cause: err },
    );
  }
}

class NatsKvBucket implements KvBucket {
  readonly name: string;
  readonly #kv: KV;
  readonly #hooks: NatsKvHooks;
  readonly #timeoutMs: number | undefined;
  /** With `reads: 'first-answer'`: the manager get() reads through. */
  readonly #reader: JetStreamManager | undefined;

  constructor(
    name: string,
    kv: KV,
    hooks: NatsKvHooks,
    timeoutMs: number | undefined,
    reader: JetStreamManager | undefined,
  ) {
    this.name = name;
    this.#kv = kv;
    this.#hooks = hooks;
    this.#timeoutMs = timeoutMs;
    this.#reader = reader;
  }

  async #call<T>(op: string, key: string, fn: () => Promise<T>, expectedRevision?: number, cas = false): Promise<T> {
    assertKvKey(key);
    try {
      return await fn();
    } catch (err) {
      throw mapNatsError(err, {
        operation: `kv ${op} '${this.name}/${key}'`,
        ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}),
        ...(cas ? { kv: { bucket: this.name, key, expectedRevision } } : {}),
      });
    }
  }

  async get(key: string): Promise<KvEntry | null> {
    const reader = this.#reader;
    if (reader)
      return this.#call('get', key, async () => {
        const m = await lastMsgFirstAnswer(reader, `KV_${this.name}`, `$KV.${this.name}.${key}`);
        // A delete, a purge and a limit marker (an expiry) all mean: no value.
        const op = m?.header?.get('KV-Operation');
        if (!m || op === 'DEL' || op === 'PURGE' || m.header?.has('Nats-Marker-Reason')) return null;
        // A plain Uint8Array view (a direct get's data is a Buffer), as every other read returns.
        const value = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        return { key, value, revision: m.seq, created: m.time.getTime() };
      });
    return this.#call('get', key, async () => {
      const e = await this.#kv.get(key);
      if (!e || e.operation !== 'PUT') return null;
      return { key: e.key, value: e.value, revision: e.revision, created: e.created.getTime() };
    });
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    return this.#call('create', key, () => this.#kv.create(key, value), undefined, true);
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    assertRevision(expectedRevision);
    return this.#call('update', key, () => this.#kv.update(key, value, expectedRevision), expectedRevision, true);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return this.#call('put', key, () => this.#kv.put(key, value));
  }

  async delete(key: string, options: { expectedRevision?: number } = {}): Promise<void> {
    const rev = options.expectedRevision;
    return this.#call(
      'delete',
      key,
      () => this.#kv.delete(key, rev === undefined ? undefined : { previousSeq: rev }),
      rev,
      rev !== undefined,
    );
  }

  async watch(key: string, cb: (event: KvWatchEvent) => void): Promise<{ stop(): void }> {
    assertKvKey(key, true);
    let iter: Awaited<ReturnType<KV['watch']>>;
    try {
      iter = await this.#kv.watch({ key, include: KvWatchInclude.LastValue });
    } catch (err) {
      throw mapNatsError(err, { operation: `kv watch '${this.name}/${key}'` });
    }
    void (async () => {
      try {
        for await (const e of iter) {
          try {
            cb({
              key: e.key,
              operation: e.operation === 'PUT' ? 'put' : 'delete',
              value: e.value,
              revision: e.revision,
              created: e.created.getTime(),
            });
          } catch (err) {
            this.#hooks.reportError(err);
          }
        }
      } catch (err) {
        this.#hooks.reportError(mapNatsError(err, { operation: `kv watch '${this.name}/${key}'` }));
      }
    })();
    const stop = () => {
      untrack();
      iter.stop();
    };
    const untrack = this.#hooks.track(stop);
    return { stop };
  }

  async settings(): Promise<KvBucketSettings> {
    try {
      const st = await this.#kv.status();
      return { ttlMs: st.ttl, history: st.history, replicas: st.replicas, markerTtlMs: st.markerTTL };
    } catch (err) {
      throw mapNatsError(err, { operation: `kv status '${this.name}'` });
    }
  }

  async keys(): Promise<string[]> {
    try {
      const out: string[] = [];
      for await (const k of await this.#kv.keys()) out.push(k);
      return out.sort();
    } catch (err) {
      throw mapNatsError(err, { operation: `kv keys '${this.name}'` });
    }
  }
}
