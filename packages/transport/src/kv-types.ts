/**
 * KV buckets as JetStream KV has them on nats-server 2.9 (docs/spec.md §7 Election, terms and
 * fencing and §12 Known pitfalls): revisions, compare-and-set, delete markers and a bucket-level
 * TTL. Both bus implementations follow these rules exactly; the conformance suite checks them.
 */
import { InvalidArgumentError } from '@backbeat/core';
import { InvalidSubjectError } from './errors.js';

/** Options of {@link Bus.kv}. */
export interface KvBucketOptions {
  /**
   * Age after which every entry (value or delete marker) expires: the bucket-level TTL. Per-key
   * TTLs are a nats-server 2.11 feature that 2.9 accepts and silently ignores, so there is none
   * here. 0 keeps entries forever. Only applies when this call creates the bucket. @default 0
   */
  ttlMs?: number;
  /** Values kept per key. Only applies when this call creates the bucket. @default 1 */
  history?: number;
  /**
   * Limit markers (nats-server 2.11.7 and later): when an entry expires by the bucket TTL, the
   * stream leader writes a delete marker through Raft, so every replica agrees on the expiry
   * and a watcher sees it as a `delete` event; the marker itself is kept this long (at least
   * 1000). An existing bucket without markers is updated in place. Nothing expires while the
   * bucket's stream has no leader. Absent: no markers (expiry is silent, as on 2.9).
   */
  markerTtlMs?: number;
  /** Create the bucket when absent; with false, fail instead. @default true */
  create?: boolean;
  /**
   * Copies of the bucket's stream (1 to 5; see {@link resolveReplicas} for `auto`). A new
   * bucket is created with it. An existing bucket with another count is changed to it when
   * the server can (scaling a stream up or down on a JetStream cluster); when it cannot,
   * ReplicaMismatchError says what differs and how to fix it. Absent: 1 for a new bucket,
   * an existing bucket's count is kept.
   */
  replicas?: number;
  /**
   * How long each operation on this handle waits for JetStream's answer before a
   * TimeoutError (on the in-memory bus: for a reconnection). A short one lets a caller learn
   * of an outage or of its end quickly (the leader lease). Only the handle it
   * opens is affected. @default the bus's JetStream timeout (5000)
   */
  timeoutMs?: number;
  /**
   * How get() reads on NATS: 'first-answer' asks the bucket stream's leader (JetStream API) and
   * every copy (direct get) at once and takes the first answer, so a read still answers in a
   * partition where one of the two paths cannot (nats-last-msg.ts); an answer may then come from
   * a copy that lags, which a compare-and-set writer tolerates (the lease). Absent: nats.js's own
   * choice. The in-memory bus has one copy and ignores it.
   */
  reads?: 'first-answer';
}

/**
 * A bucket's configuration as the server holds it (docs/spec.md §12 Known pitfalls: never assume
 * the flags took effect).
 */
export interface KvBucketSettings {
  /** Bucket-level TTL; 0 keeps entries forever. */
  readonly ttlMs: number;
  /** Values kept per key. */
  readonly history: number;
  /** Copies of the bucket's stream (1 on a single server and on the in-memory bus). */
  readonly replicas: number;
  /** How long a limit marker is kept; 0 when the bucket writes none (its expiry is silent). */
  readonly markerTtlMs: number;
}

/** A stored KV value. */
export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /**
   * Per-bucket sequence number, growing across all keys of the bucket (on NATS it is the
   * sequence of the bucket's stream). Deletes take a revision too.
   */
  readonly revision: number;
  /** When this revision was written, ms since the epoch. */
  readonly created: number;
}

/** A change seen by a KV watcher. */
export interface KvWatchEvent {
  readonly key: string;
  readonly operation: 'put' | 'delete';
  /** Empty for a delete. */
  readonly value: Uint8Array;
  readonly revision: number;
  /** When this revision was written (the server's clock), ms since the epoch. */
  readonly created: number;
}

/**
 * A KV bucket with revisions and compare-and-set (the leader lease, the tempo map).
 *
 * Expiry: without limit markers (nats-server 2.9, or a bucket made without them) an entry
 * expired by the bucket TTL simply disappears and a watcher gets **no event** for it
 * (docs/spec.md §12 Known pitfalls): whoever waits for a lease to expire must poll `get` or try
 * `create` on its own timer. With markers a watcher sees a `delete`. After expiry `get` returns
 * null and `create` succeeds.
 */
export interface KvBucket {
  readonly name: string;
  /** The live value, or null when absent, deleted or expired. @throws InvalidSubjectError for a bad key */
  get(key: string): Promise<KvEntry | null>;
  /**
   * Writes only when the key has no live value (never written, deleted, or expired).
   * Returns the new revision.
   * @throws KvConflictError when it has one
   */
  create(key: string, value: Uint8Array): Promise<number>;
  /**
   * Writes only when the key's last revision is `expectedRevision` (a delete marker counts).
   * Returns the new revision.
   * @throws KvConflictError otherwise (also when the entry expired meanwhile)
   * @throws InvalidArgumentError unless expectedRevision is an integer >= 1
   */
  update(key: string, value: Uint8Array, expectedRevision: number): Promise<number>;
  /** Writes unconditionally; returns the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /**
   * Deletes the key by writing a delete marker (which takes a revision). With
   * expectedRevision, only when that is the key's last revision.
   * @throws KvConflictError on a revision mismatch
   */
  delete(key: string, options?: { expectedRevision?: number }): Promise<void>;
  /**
   * Calls `cb` with the current entry of every matching key (delete markers included, oldest
   * revision first), then with every later put and delete. `key` may use `*` and `>`
   * (`>` for every key). No event for expiry by TTL (see above). After a reconnection the
   * watcher catches up with the latest revision of each key it missed.
   */
  watch(key: string, cb: (event: KvWatchEvent) => void): Promise<{ stop(): void }>;
  /** Keys with a live value, sorted. */
  keys(): Promise<string[]>;
  /** The bucket's configuration read back from the server. */
  settings(): Promise<KvBucketSettings>;
}

const KEY = /^[-/_=.a-zA-Z0-9]+$/;

/**
 * Checks a KV key (letters, digits and `- / _ = .`, no dot at either end, no empty token);
 * with `wildcards` (watch), `*` and `>` are allowed as whole tokens.
 * @throws InvalidSubjectError naming the rule
 */
export function assertKvKey(key: string, wildcards = false): void {
  const ok =
    typeof key === 'string' &&
    key.length > 0 &&
    key
      .split('.')
      .every(
        (t, i, all) =>
          (wildcards && (t === '*' || (t === '>' && i === all.length - 1))) || (t.length > 0 && KEY.test(t)),
      );
  if (!ok)
    throw new InvalidSubjectError(
      String(key),
      'KV keys use letters, digits and - / _ = . in non-empty dot-separated tokens',
    );
}

/** @throws InvalidArgumentError unless `revision` is an integer >= 1 */
export function assertRevision(revision: number): void {
  if (!Number.isInteger(revision) || revision < 1)
    throw new InvalidArgumentError('expectedRevision', `must be an integer >= 1, got ${revision}`);
}
