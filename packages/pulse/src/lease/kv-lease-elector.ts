/**
 * The default elector: a lease in the cluster's JetStream KV lease bucket, whose TTL is the
 * lease TTL (docs/spec.md §7 Election, terms and fencing and §12 Known pitfalls; the Pulse checks
 * the bucket's TTL before it builds this). This class is the shell of the lease machine
 * (machine.ts): it turns KV answers, timers and the watch of the lease key into events, and
 * carries out the effects the machine returns (KV operations, timers, the publish deadline,
 * listeners, logs). Every rule lives in the machine.
 */
import { scheduleAt, systemClock, silentLogger, type Clock, type Logger, type SlotKey } from '@backbeat/core';
import { encodeJson, KvConflictError, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import type { GatedKey } from '../kv-gate.js';
import type { LeaderElector, Leadership } from './leader-elector.js';
import { initialLeaseState, leadershipOf, mayPublish, step, type LeaseState } from './machine.js';
import type { KvAnswer, KvFailure, KvOp, LeaseEffect, LeaseEvent, LeaseNow, LeaseTimer } from './machine-io.js';
import { DEFAULT_KV_OUTAGE_GRACE_MS, isOutageEvidence, outageTimings, type OutageTimings } from './outage.js';
import { LEADER_TERM_KEY, readLease, readTerm } from './records.js';

/** Options of {@link KvLeaseElector}. */
export interface KvLeaseOptions {
  /** The cluster's state bucket, where the term counter lives. */
  state: KvBucket;
  /** Lease TTL; must equal the lease bucket's TTL. @default 2000 */
  ttlMs?: number;
  /** Safety margin before expiry at which a leader stops publishing. @default max(100, ttl/8) */
  fenceMarginMs?: number;
  /**
   * How long past its lease a leader may keep publishing while the lease KV answers "no
   * responders" (no stream leader, so nobody can take the lease). 0: it stops at
   * the lease's expiry whatever the cause. See outage.ts. @default 15000
   */
  kvOutageGraceMs?: number;
  /**
   * The bound on clock offsets between nodes and NATS servers (the clock check's), or undefined
   * for none. With a bound, a follower takes a lease whose holder must have stopped publishing
   * (takeover.ts) by compare-and-set on its revision, instead of waiting for the server to
   * expire it (which comes 100 to 300 ms after the TTL). Without a bound there is no takeover.
   */
  clockOffsetBoundMs?: number;
  /** Why this node may not lead now (its clock check), or null. @default always null */
  refusal?: () => string | null;
  /** Send time of the latest frame of `term` the beat stream stored, or undefined (machine-io.ts `LeaseNow`). */
  beatStoredAt?: (term: number) => number | undefined;
  /** The last (beat, phase) this node sent or saw on the wire, written into the records. */
  lastSlot?: () => SlotKey | undefined;
  /**
   * Called whenever the publish deadline changes: the fence time and term, or 0 when this node
   * may not publish, until when a quorum write holds the lease and when that write was sent
   * (machine-io.ts `deadline`).
   */
  onDeadline?: (validUntil: number, term: number, quorumUntil: number, quorumSentAt: number) => void;
  /** Called for each refused (malformed) lease or term value. */
  onRefused?: (key: GatedKey, reason: string) => void;
  clock?: Clock;
  logger?: Logger;
}

/** How a failed KV operation reads to the machine. */
export function kvFailure(err: unknown): KvFailure {
  const kind = err instanceof KvConflictError ? 'conflict' : isOutageEvidence(err) ? 'no-responders' : 'failed';
  return { kind, message: (err as Error)?.message ?? String(err) };
}

/** Leader election by a KV lease. */
export class KvLeaseElector implements LeaderElector {
  readonly ttlMs: number;
  readonly fenceMarginMs: number;
  readonly kvOutageGraceMs: number;
  readonly timings: OutageTimings;
  readonly #o: KvLeaseOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #listeners = new Set<(l: Leadership) => void>();
  readonly #timers = new Map<LeaseTimer, () => void>();
  #state: LeaseState;
  #queue: LeaseEvent[] = [];
  #stepping = false;
  #watch: { stop(): void } | undefined;
  #idle: (() => void) | undefined;
  #stopped: (() => void) | undefined;

  constructor(
    private readonly kv: KvBucket,
    readonly nodeId: string,
    options: KvLeaseOptions,
  ) {
    this.#o = options;
    this.ttlMs = options.ttlMs ?? 2000;
    this.fenceMarginMs = options.fenceMarginMs ?? Math.max(100, this.ttlMs / 8);
    this.kvOutageGraceMs = options.kvOutageGraceMs ?? DEFAULT_KV_OUTAGE_GRACE_MS;
    this.timings = outageTimings(this.ttlMs);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#state = initialLeaseState({
      nodeId,
      ttlMs: this.ttlMs,
      fenceMarginMs: this.fenceMarginMs,
      kvOutageGraceMs: this.kvOutageGraceMs,
      clockOffsetBoundMs: options.clockOffsetBoundMs,
      timings: this.timings,
    });
  }

  /** Campaigns once (the first lease read and take are done when this resolves), then watches the lease key. */
  async start(): Promise<void> {
    if (this.#state.running) return;
    const idle = new Promise<void>((resolve) => (this.#idle = resolve));
    this.#dispatch({ type: 'start' });
    await idle;
    try {
      this.#watch = await this.kv.watch(STATE_KEYS.leader, (e) => {
        if (e.operation === 'delete') this.#dispatch({ type: 'lease-ended' });
        else this.#dispatch({ type: 'lease-written', revision: e.revision, created: e.created });
      });
    } catch (err) {
      // The poll alone still finds an absent lease; only the failover is a poll slower.
      const msg = 'could not watch the lease key; followers find an ended lease by polling';
      this.#log.warn({ err: (err as Error).message }, msg);
    }
  }

  /** Stops campaigning; a held lease is released once the operation in flight has answered. */
  async stop(): Promise<void> {
    if (!this.#state.running) return;
    this.#watch?.stop();
    const stopped = new Promise<void>((resolve) => (this.#stopped = resolve));
    this.#dispatch({ type: 'stop' });
    await stopped;
  }

  canPublish(now: number): boolean {
    return mayPublish(this.#state, now);
  }

  fence(reason: string): void {
    this.#dispatch({ type: 'fence', reason });
  }

  leadership(): Leadership {
    return leadershipOf(this.#state);
  }

  onChange(listener: (l: Leadership) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #now(): LeaseNow {
    return {
      at: this.#clock.now(),
      wall: this.#clock.wallNow(),
      lastSlot: this.#o.lastSlot?.(),
      refusal: this.#o.refusal?.() ?? null,
      beatStoredAt: this.#o.beatStoredAt?.(this.#state.term),
    };
  }

  /** Steps the machine; an event raised while effects run (a listener that fences) waits its turn. */
  #dispatch(event: LeaseEvent): void {
    this.#queue.push(event);
    if (this.#stepping) return;
    this.#stepping = true;
    try {
      for (let e = this.#queue.shift(); e; e = this.#queue.shift()) {
        const next = step(this.#state, e, this.#now());
        this.#state = next.state;
        for (const effect of next.effects) this.#carryOut(effect);
      }
    } finally {
      this.#stepping = false;
    }
  }

  #carryOut(e: LeaseEffect): void {
    switch (e.type) {
      case 'kv':
        return this.#request(e.req, e.op);
      case 'arm':
        return this.#arm(e.timer, e.at);
      case 'disarm':
        this.#timers.get(e.timer)?.();
        this.#timers.delete(e.timer);
        return;
      case 'deadline':
        return this.#o.onDeadline?.(e.validUntil, e.term, e.quorumUntil, e.quorumSentAt);
      case 'changed':
        for (const listener of this.#listeners) listener(e.leadership);
        return;
      case 'log':
        return this.#log[e.level](e.fields, e.msg);
      case 'idle':
        this.#idle?.();
        this.#idle = undefined;
        return;
      case 'stopped':
        this.#idle?.(); // a start still waiting for its first campaign
        this.#idle = undefined;
        this.#stopped?.();
        this.#stopped = undefined;
        return;
    }
  }

  /** The tick and the takeover are plain timers; the fence and the guard use scheduleAt, which never fires early. */
  #arm(timer: LeaseTimer, at: number): void {
    this.#timers.get(timer)?.();
    const fire = (): void => {
      this.#timers.delete(timer);
      this.#dispatch({ type: 'timer', timer });
    };
    if (timer === 'fence' || timer === 'guard') {
      this.#timers.set(timer, scheduleAt(this.#clock, at, fire));
      return;
    }
    const delay = timer === 'takeover' ? Math.max(0, at - this.#clock.wallNow()) : at - this.#clock.now();
    const handle = this.#clock.setTimeout(fire, delay);
    this.#timers.set(timer, () => this.#clock.clearTimeout(handle));
  }

  #request(req: number, op: KvOp): void {
    this.#call(op).then(
      (answer) => this.#dispatch({ type: 'kv', req, answer }),
      (err: unknown) => this.#dispatch({ type: 'kv', req, answer: { ok: false, failure: kvFailure(err) } }),
    );
  }

  async #call(op: KvOp): Promise<KvAnswer> {
    const bucket = op.key === 'lease' ? this.kv : this.#o.state;
    const key = op.key === 'lease' ? STATE_KEYS.leader : LEADER_TERM_KEY;
    switch (op.op) {
      case 'get':
        if (op.key === 'lease') return { ok: true, lease: await readLease(this.kv, this.#o.onRefused) };
        return { ok: true, counter: await readTerm(this.#o.state, this.#o.onRefused) };
      case 'create':
        return { ok: true, revision: await bucket.create(key, encodeJson(op.value)) };
      case 'update':
        return { ok: true, revision: await bucket.update(key, encodeJson(op.value), op.expectedRevision) };
      case 'delete':
        await bucket.delete(key, { expectedRevision: op.expectedRevision });
        return { ok: true };
    }
  }
}
