/**
 * The default elector: a lease in the cluster's JetStream KV lease bucket, whose TTL is the
 * lease TTL (SPEC 6 and 12).
 * - take it: create-if-absent; the create's revision is the term (revisions only grow);
 * - keep it: update with the expected revision, every ttl/4;
 * - fencing: the leader stops publishing at (send time of its last successful renewal +
 *   ttl − margin), before the server can expire the lease, so two leaders never publish;
 * - followers retry on their own timer: nats-server 2.9 sends no watch event on expiry.
 */
import { systemClock, silentLogger, type Clock, type Logger, type TimerHandle } from '@backbeat/core';
import { decodeJson, encodeJson, KvConflictError, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import type { LeaderElector, Leadership } from './elector.js';

/** Options of {@link KvLeaseElector}. */
export interface KvLeaseOptions {
  /** Lease TTL; must equal the lease bucket's TTL. @default 2000 */
  ttlMs?: number;
  /** Safety margin before expiry at which a leader stops publishing. @default max(100, ttl/8) */
  fenceMarginMs?: number;
  clock?: Clock;
  logger?: Logger;
}

interface LeaseValue {
  node_id: string;
  term?: number;
  acquired_at: string;
}

/** Leader election by a KV lease. */
export class KvLeaseElector implements LeaderElector {
  readonly ttlMs: number;
  readonly fenceMarginMs: number;
  #clock: Clock;
  #log: Logger;
  #listeners = new Set<(l: Leadership) => void>();
  #running = false;
  #timer: TimerHandle | undefined;
  #fenceTimer: TimerHandle | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #isLeader = false;
  #revision = 0;
  #term = 0;
  #leaderId: string | null = null;
  #validUntil = 0;

  constructor(
    private readonly kv: KvBucket,
    readonly nodeId: string,
    options: KvLeaseOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2000;
    this.fenceMarginMs = options.fenceMarginMs ?? Math.max(100, this.ttlMs / 8);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#tick();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    await this.#ticking;
    if (this.#isLeader) {
      const revision = this.#revision;
      this.#setLeader(false, 'stopped');
      try {
        await this.kv.delete(STATE_KEYS.leader, { expectedRevision: revision });
        this.#log.info({ term: this.#term }, 'released the leader lease');
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'could not release the leader lease; it expires by its TTL');
      }
    }
  }

  canPublish(now: number): boolean {
    return this.#isLeader && now < this.#validUntil;
  }

  leadership(): Leadership {
    return { isLeader: this.#isLeader, term: this.#term, leaderId: this.#leaderId };
  }

  onChange(listener: (l: Leadership) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #schedule(): void {
    if (!this.#running) return;
    const every = this.#isLeader ? this.ttlMs / 4 : Math.min(250, this.ttlMs / 8);
    this.#timer = this.#clock.setTimeout(() => {
      this.#ticking = this.#tick();
    }, every);
  }

  async #tick(): Promise<void> {
    try {
      if (this.#isLeader) await this.#renew();
      else await this.#campaign();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, leader: this.#isLeader }, 'lease operation failed');
    } finally {
      this.#schedule();
    }
  }

  async #campaign(): Promise<void> {
    const sentAt = this.#clock.now();
    const value: LeaseValue = { node_id: this.nodeId, acquired_at: new Date(this.#clock.wallNow()).toISOString() };
    try {
      const revision = await this.kv.create(STATE_KEYS.leader, encodeJson(value));
      if (!this.#running) return;
      this.#revision = revision;
      this.#term = revision;
      this.#leaderId = this.nodeId;
      this.#extend(sentAt);
      this.#setLeader(true, 'acquired');
      // Record the term in the value, so followers and /leader can read it.
      await this.#renew();
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
      const e = await this.kv.get(STATE_KEYS.leader);
      if (e) {
        const v = decodeJson<LeaseValue>(e.value);
        const term = v.term ?? e.revision;
        if (term !== this.#term || v.node_id !== this.#leaderId) {
          this.#term = Math.max(this.#term, term);
          this.#leaderId = v.node_id;
          this.#emit();
        }
      }
    }
  }

  async #renew(): Promise<void> {
    const sentAt = this.#clock.now();
    const value: LeaseValue = { node_id: this.nodeId, term: this.#term, acquired_at: new Date(this.#clock.wallNow()).toISOString() };
    try {
      this.#revision = await this.kv.update(STATE_KEYS.leader, encodeJson(value), this.#revision);
      this.#extend(sentAt);
    } catch (err) {
      if (err instanceof KvConflictError) {
        this.#setLeader(false, 'lease lost to another node or expired');
        return;
      }
      throw err; // the fence timer demotes us if renewals keep failing
    }
  }

  /** The lease was written at or after `sentAt`: it cannot expire before sentAt + ttl. */
  #extend(sentAt: number): void {
    this.#validUntil = sentAt + this.ttlMs - this.fenceMarginMs;
    if (this.#fenceTimer) this.#clock.clearTimeout(this.#fenceTimer);
    this.#fenceTimer = this.#clock.setTimeout(() => {
      if (this.#isLeader && this.#clock.now() >= this.#validUntil) this.#setLeader(false, 'lease not renewed in time');
    }, this.#validUntil - this.#clock.now());
  }

  #setLeader(isLeader: boolean, reason: string): void {
    if (this.#isLeader === isLeader) return;
    this.#isLeader = isLeader;
    if (!isLeader) {
      this.#validUntil = 0;
      if (this.#leaderId === this.nodeId) this.#leaderId = null;
    }
    this.#log.info({ term: this.#term, reason }, isLeader ? 'became leader' : 'stepped down');
    this.#emit();
  }

  #emit(): void {
    const l = this.leadership();
    for (const listener of this.#listeners) listener(l);
  }
}
