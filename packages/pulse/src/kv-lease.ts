/**
 * The default elector: a lease in the cluster's JetStream KV lease bucket, whose TTL is the
 * lease TTL (docs/spec.md §7 Election, terms and fencing and §12 Known pitfalls; the Pulse checks
 * the bucket's TTL before it builds this).
 * - take it: create-if-absent, then count the leadership: the term counter (state bucket key
 *   `leader-term`, no TTL, term-counter.ts) is compare-and-set from T to T + 1, so terms read
 *   1, 2, 3 ... and only grow; the lease value is a LeaseRecord carrying that term, written
 *   before the first frame of the term (clients learn the legitimate term from it alone);
 * - keep it: update with the expected revision, every ttl/4; a renewal whose answer is lost
 *   or conflicts is read back, and a value that is still this node's is adopted;
 * - fencing: the leader stops publishing at (send time of its last successful write +
 *   ttl − margin), before the server can expire the lease, so two leaders never publish;
 * - a node whose clock check refuses it does not take the lease, and a leader releases it;
 * - followers retry on their own timer (without limit markers, e.g. on nats-server 2.9, an
 *   expiry sends no watch event), and also at once when a watch of the lease key sees it end
 *   (a release, or the limit marker of an expiry on 2.11.7+): a failover then costs the TTL,
 *   not the TTL plus a poll;
 * - KV outage (lease-outage.ts, docs/decisions/0002-kv-outage-grace.md): while renewals get "no
 * responders" (no stream
 *   leader: nobody can take the lease either), the leader keeps publishing on fresh evidence,
 *   up to `kvOutageGraceMs` past its lease, retrying every 150 ms. When the KV answers, a lease
 *   still ours is kept; an expired one is re-created under the same term only when the term
 *   counter still holds that term (checked by compare-and-set); anything else steps down. A node
 *   that takes a lease which expired while it saw the KV fail waits a handover guard first.
 */
import { scheduleAt, systemClock, silentLogger, type Clock, type Logger, type SlotKey, type TimerHandle } from '@backbeat/core';
import { encodeJson, KvConflictError, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import type { LeaderElector, Leadership } from './elector.js';
import type { GatedKey } from './kv-gates.js';
import { fromWire, later, readLease, toWire, type LeaseRead, type PulseLeaseRecord } from './lease-records.js';
import { DEFAULT_KV_OUTAGE_GRACE_MS, isOutageEvidence, needsHandoverGuard, OUTAGE_RETRY_MS, outageJustEnded, outageTimings, outageValidity, type OutageTimings } from './lease-outage.js';
import { LeaseReachability } from './lease-reachability.js';
import { TakeoverTimer, takeoverDueAt } from './lease-takeover.js';
import { nextTerm, predecessor, TermCounter } from './term-counter.js';

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
   * the lease's expiry whatever the cause. See lease-outage.ts. @default 15000
   */
  kvOutageGraceMs?: number;
  /**
   * The bound on clock offsets between nodes and NATS servers (the clock check's), or undefined
   * for none. With a bound, a follower takes a lease whose holder must have stopped publishing
   * (lease-takeover.ts) by compare-and-set on its revision, instead of waiting for the server to
   * expire it (which comes 100 to 300 ms after the TTL). Without a bound there is no takeover.
   */
  clockOffsetBoundMs?: number;
  /** Why this node may not lead now (its clock check), or null. @default always null */
  refusal?: () => string | null;
  /** The last (beat, phase) this node sent or saw on the wire, written into the records. */
  lastSlot?: () => SlotKey | undefined;
  /** Called whenever the publish deadline changes: the lease's fence time and term, or 0 when this node may not publish. */
  onDeadline?: (validUntil: number, term: number) => void;
  /** Called for each refused (malformed) lease or term value. */
  onRefused?: (key: GatedKey, reason: string) => void;
  clock?: Clock;
  logger?: Logger;
}

/** How long a follower that saw the KV fail leaves an absent lease to its previous holder (two of its retries). */
const INCUMBENT_HEAD_START_MS = 2 * OUTAGE_RETRY_MS;

/** Leader election by a KV lease. */
export class KvLeaseElector implements LeaderElector {
  readonly ttlMs: number;
  readonly fenceMarginMs: number;
  readonly kvOutageGraceMs: number;
  readonly timings: OutageTimings;
  readonly #o: KvLeaseOptions;
  readonly #terms: TermCounter;
  readonly #reachability: LeaseReachability;
  #clock: Clock;
  #log: Logger;
  #listeners = new Set<(l: Leadership) => void>();
  #running = false;
  #timer: TimerHandle | undefined;
  #cancelFence: (() => void) | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #inTick = false;
  /** A watch saw the lease end: the next campaign runs at once and need not read the lease. */
  #leaseEnded = false;
  /** Takes over a lease not renewed in time (undefined: no clock-offset bound, no takeover). */
  readonly #takeoverTimer: TakeoverTimer | undefined;
  /** The revision a due takeover replaces by compare-and-set. */
  #takeover: number | undefined;
  #watch: { stop(): void } | undefined;
  #isLeader = false;
  #revision = 0;
  #record: PulseLeaseRecord | undefined;
  #term = 0;
  #leaderId: string | null = null;
  #previous: string | null = null;
  #reason = '';
  #validUntil = 0;
  #resumeAfter: SlotKey | undefined;
  #selfFenced = false;
  /** Send time of the last write of this term the KV acknowledged. */
  #okSentAt = 0;
  /** Send time of the first renewal since then whose outcome is unknown (it may have been applied). */
  #unsureSince: number | undefined;
  /** When this leader's KV outage began (its first failed renewal), or undefined. */
  #outageSince: number | undefined;
  /** A new leader publishes from this time on (the handover guard). */
  #publishFrom = 0;
  #cancelGuard: (() => void) | undefined;
  /** The lease was re-created after an outage and the term counter has not been checked yet. */
  #termUnverified = false;
  /** When a follower that saw the KV fail first found the lease absent (the incumbent's head start). */
  #absentSince: number | undefined;

  constructor(
    private readonly kv: KvBucket,
    readonly nodeId: string,
    options: KvLeaseOptions,
  ) {
    this.#o = options;
    this.#terms = new TermCounter(options.state, options.onRefused);
    this.ttlMs = options.ttlMs ?? 2000;
    this.fenceMarginMs = options.fenceMarginMs ?? Math.max(100, this.ttlMs / 8);
    this.kvOutageGraceMs = options.kvOutageGraceMs ?? DEFAULT_KV_OUTAGE_GRACE_MS;
    this.timings = outageTimings(this.ttlMs);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#reachability = new LeaseReachability(this.#clock, this.#log, () => this.#isLeader, () => this.#emit());
    const bound = options.clockOffsetBoundMs;
    this.#takeoverTimer =
      bound === undefined
        ? undefined
        : new TakeoverTimer(this.#clock, (created) => takeoverDueAt(created, this.ttlMs, this.fenceMarginMs, bound), (revision) => {
            if (!this.#running || this.#isLeader) return;
            this.#takeover = revision;
            this.#onLeaseEnded();
          });
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#ticking = this.#tick();
    await this.#ticking;
    try {
      this.#watch = await this.kv.watch(STATE_KEYS.leader, (e) => {
        if (e.operation === 'delete') this.#onLeaseEnded();
        else this.#observe(e.revision, e.created);
      });
    } catch (err) {
      // The poll alone still finds an absent lease; only the failover is a poll slower.
      this.#log.warn({ err: (err as Error).message }, 'could not watch the lease key; followers find an ended lease by polling');
    }
  }

  /** A follower saw the lease at `revision`, written at `created` (server time). */
  #observe(revision: number, created: number): void {
    if (this.#running && !this.#isLeader) this.#takeoverTimer?.observe(revision, created);
  }

  /** A watch saw the lease key deleted or expired: a follower campaigns now instead of at its next poll. */
  #onLeaseEnded(): void {
    if (!this.#running || this.#isLeader) return;
    this.#leaseEnded = true;
    if (this.#inTick) return; // the tick in flight schedules the next one at once
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#schedule();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#watch?.stop();
    this.#takeoverTimer?.cancel();
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#cancelFence?.();
    this.#cancelGuard?.();
    await this.#ticking;
    if (this.#isLeader) {
      this.#setLeader(false, 'stopped');
      await this.#release('released');
    }
  }

  canPublish(now: number): boolean {
    return this.#isLeader && now >= this.#publishFrom && now < this.#validUntil;
  }

  fence(reason: string): void {
    if (!this.#isLeader) return;
    this.#selfFenced = true;
    this.#setLeader(false, reason);
  }

  leadership(): Leadership {
    return {
      isLeader: this.#isLeader,
      term: this.#term,
      leaderId: this.#leaderId,
      previousLeaderId: this.#previous,
      reason: this.#reason,
      lastRenewalAt: this.#reachability.lastOkAt,
      leaseReachable: this.#reachability.reachable,
      resumeAfter: this.#resumeAfter,
    };
  }

  onChange(listener: (l: Leadership) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #schedule(): void {
    if (!this.#running) return;
    const poll = this.#leaseEnded ? 0 : Math.min(250, this.ttlMs / 8);
    const every = this.#isLeader ? (this.#outageSince !== undefined ? OUTAGE_RETRY_MS : this.ttlMs / 4) : poll;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#ticking = this.#tick();
    }, every);
  }

  async #tick(): Promise<void> {
    this.#inTick = true;
    try {
      if (this.#isLeader) {
        const refusal = this.#o.refusal?.() ?? null;
        if (refusal) {
          this.#setLeader(false, refusal);
          await this.#release(refusal);
        } else await this.#renew();
      } else await this.#campaign();
    } catch (err) {
      this.#reachability.failed(err);
    } finally {
      this.#inTick = false;
      this.#schedule();
    }
  }

  /** The lease as it is now (see {@link readLease}); a read that answers shows the KV reachable. */
  async #readLease(): Promise<LeaseRead> {
    const lease = await readLease(this.kv, this.#o.onRefused);
    this.#reachability.ok();
    return lease;
  }

  async #campaign(): Promise<void> {
    // After a delete seen by the watch, go straight to the create (a compare-and-set): a read
    // may be served by a replica that has not applied the delete yet.
    const ended = this.#leaseEnded;
    const takeover = this.#takeover;
    this.#leaseEnded = false;
    this.#takeover = undefined;
    const cur = ended ? null : await this.#readLease();
    if (cur) {
      const mine = cur.value?.node_id === this.nodeId && cur.value.term === this.#term;
      this.#observe(cur.revision, cur.created);
      if (!(mine && this.#selfFenced)) return this.#follow(cur.value);
      // This node fenced itself from this very lease: end it, so a new term starts now.
      try {
        await this.kv.delete(STATE_KEYS.leader, { expectedRevision: cur.revision });
      } catch (err) {
        if (err instanceof KvConflictError) return;
        throw err;
      }
      this.#selfFenced = false;
    } else if (this.#leaderId !== null) {
      // /leader never names a node that is not publishing.
      this.#previous = this.#leaderId;
      this.#leaderId = null;
      this.#reason = 'lease ended';
      this.#emit();
    }
    if (!this.#running || this.#o.refusal?.()) return;
    // After a KV outage the previous leader may be riding it out: it re-creates the lease within
    // a retry or two. Give it that head start rather than a handover with a guard.
    const now = this.#clock.now();
    const outage = this.kvOutageGraceMs > 0 && outageJustEnded(now, this.#reachability.troubleAt, this.ttlMs) && this.#previous !== this.nodeId;
    if (outage) {
      this.#absentSince ??= now;
      if (now - this.#absentSince < INCUMBENT_HEAD_START_MS) return;
    }
    this.#absentSince = undefined;
    await this.#acquire(takeover);
  }

  #follow(v: PulseLeaseRecord | null): void {
    this.#absentSince = undefined;
    if (!v) return; // a refused value: keep the last good view
    this.#resumeAfter = later(this.#resumeAfter, fromWire(v.last_slot));
    if (v.term === this.#term && v.node_id === this.#leaderId) return;
    if (this.#leaderId !== null && this.#leaderId !== v.node_id) this.#previous = this.#leaderId;
    else if (v.previous_node) this.#previous = v.previous_node;
    this.#term = Math.max(this.#term, v.term);
    this.#leaderId = v.node_id;
    this.#reason = v.reason;
    this.#emit();
  }

  /** Takes the lease: create-if-absent, or (`replaces`) compare-and-set over a lease not renewed in time. */
  async #acquire(replaces?: number): Promise<void> {
    const sentAt = this.#clock.now();
    const tr = await this.#terms.read();
    this.#resumeAfter = later(later(this.#resumeAfter, fromWire(tr?.value?.last_slot)), this.#o.lastSlot?.());
    const { holder: previousHolder, ended, reason } = predecessor(tr, this.#term);
    let record: PulseLeaseRecord = {
      node_id: this.nodeId,
      term: nextTerm(this.#term, tr),
      acquired_at: new Date(this.#clock.wallNow()).toISOString(),
      previous_node: this.#leaderId ?? this.#previous ?? tr?.value?.node_id ?? null,
      reason,
      last_slot: toWire(this.#resumeAfter),
    };
    let revision: number;
    try {
      revision = replaces === undefined ? await this.kv.create(STATE_KEYS.leader, encodeJson(record)) : await this.kv.update(STATE_KEYS.leader, encodeJson(record), replaces);
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
      const cur = await this.#readLease();
      if (cur) this.#follow(cur.value);
      return;
    }
    this.#reachability.ok();
    // Count the leadership (a lost race takes the next term, term-counter.ts).
    ({ record, revision } = await this.#terms.count(this.kv, this.#term, tr, { record, revision }));
    if (!this.#running) {
      await this.kv.delete(STATE_KEYS.leader, { expectedRevision: revision }).catch(() => {});
      return;
    }
    this.#revision = revision;
    this.#record = record;
    if (this.#leaderId !== null && this.#leaderId !== this.nodeId) this.#previous = this.#leaderId;
    else this.#previous = record.previous_node;
    this.#term = record.term;
    this.#leaderId = this.nodeId;
    this.#reason = reason;
    this.#okSentAt = sentAt;
    this.#unsureSince = undefined;
    this.#outageSince = undefined;
    const guard = needsHandoverGuard({
      now: this.#clock.now(),
      graceMs: this.kvOutageGraceMs,
      ttlMs: this.ttlMs,
      previousNode: previousHolder,
      nodeId: this.nodeId,
      endedCleanly: ended !== undefined,
      troubleAt: this.#reachability.troubleAt,
    });
    // The previous leader may still be publishing on its outage grace: let it learn first.
    this.#publishFrom = guard ? this.#clock.now() + this.timings.handoverGuardMs : 0;
    this.#extend(sentAt);
    this.#setLeader(true, reason);
    if (!guard) return;
    this.#log.info({ term: this.#term, guard_ms: this.timings.handoverGuardMs, previous_leader: previousHolder }, 'took a lease that expired during a KV outage: first frame after the handover guard');
    this.#cancelGuard = scheduleAt(this.#clock, this.#publishFrom, () => {
      if (!this.#isLeader) return;
      this.#o.onDeadline?.(this.#validUntil, this.#term);
      this.#emit();
    });
  }

  async #renew(): Promise<void> {
    if (this.#termUnverified) await this.#verifyTerm();
    if (!this.#isLeader) return;
    const sentAt = this.#clock.now();
    const value: PulseLeaseRecord = { ...this.#record!, last_slot: toWire(this.#o.lastSlot?.()) ?? this.#record!.last_slot };
    let revision: number;
    try {
      revision = await this.kv.update(STATE_KEYS.leader, encodeJson(value), this.#revision);
    } catch (err) {
      if (err instanceof KvConflictError) return this.#afterConflict();
      return this.#renewFailed(err, sentAt, true);
    }
    this.#revision = revision;
    this.#record = value;
    this.#renewed(sentAt);
  }

  /** A write of this term was acknowledged (or adopted): sent at `sentAt`, the lease cannot expire before sentAt + ttl. */
  #renewed(sentAt: number): void {
    this.#okSentAt = sentAt;
    this.#unsureSince = undefined;
    if (this.#outageSince !== undefined) {
      this.#log.info({ term: this.#term, outage_ms: Math.round(this.#clock.now() - this.#outageSince) }, 'the lease KV answers again; still leading');
      this.#outageSince = undefined;
    }
    if (sentAt + this.ttlMs - this.fenceMarginMs > this.#validUntil || this.#validUntil === 0) this.#extend(sentAt);
    this.#reachability.ok();
  }

  /**
   * A renewal (or a step of it) failed without an answer from the lease's stream. `outage`:
   * the failure may be evidence that nobody can write the lease (lease-outage.ts); false once
   * the KV answered with a conflict (it has a stream leader then).
   */
  #renewFailed(err: unknown, sentAt: number, outage: boolean): void {
    const evidence = outage && isOutageEvidence(err);
    if (!evidence && !(err instanceof KvConflictError)) this.#unsureSince ??= sentAt; // a timeout may have been applied
    this.#reachability.failed(err);
    if (!this.#isLeader) return;
    const first = this.#outageSince === undefined;
    this.#outageSince ??= sentAt;
    const until = outageValidity({
      now: this.#clock.now(),
      validUntil: this.#validUntil,
      sentAt,
      okSentAt: this.#okSentAt,
      ttlMs: this.ttlMs,
      fenceMarginMs: this.fenceMarginMs,
      graceMs: this.kvOutageGraceMs,
      evidence,
      timings: this.timings,
    });
    if (until === null) return this.#setLeader(false, 'lease not renewed in time');
    if (until <= this.#validUntil) return;
    if (first || this.#validUntil <= this.#okSentAt + this.ttlMs - this.fenceMarginMs) {
      this.#log.warn({ term: this.#term, grace_ms: this.kvOutageGraceMs, err: (err as Error).message }, 'the lease KV has no stream leader: nobody can take the lease; publishing on the KV-outage grace');
    }
    this.#setValidity(until);
  }

  /** The renewal conflicted: the answer of an earlier one was lost, the lease expired, or another node holds it. */
  async #afterConflict(): Promise<void> {
    let cur: LeaseRead;
    try {
      cur = await this.#readLease();
    } catch (err) {
      return this.#renewFailed(err, this.#clock.now(), false);
    }
    if (cur?.value && cur.value.node_id === this.nodeId && cur.value.term === this.#term) {
      if (cur.revision > this.#revision) {
        // Only this node writes its record, and only its unanswered renewals since the last
        // acknowledged one can have been applied: the lease lives at least from the first of them.
        const appliedFrom = this.#unsureSince ?? this.#okSentAt;
        this.#revision = cur.revision;
        this.#record = cur.value;
        this.#renewed(appliedFrom);
        this.#log.info({ term: this.#term, revision: cur.revision }, 'a renewal answer was lost; the lease is still ours: adopted its revision');
      }
      return;
    }
    if (!cur && this.#outageSince !== undefined && this.kvOutageGraceMs > 0 && this.#clock.now() < this.#validUntil) return this.#restore();
    this.#setLeader(false, cur?.value ? `lease taken by ${cur.value.node_id}` : 'lease expired before it was renewed');
    if (cur) this.#follow(cur.value);
  }

  /**
   * The replicas expired the lease by its TTL while nobody could write it. Re-create it under
   * the same term at once: the lease key makes it this node's alone again, and nobody can count
   * a new term without holding it. Whether another term began during the outage is checked on
   * the term counter next, by compare-and-set (a linearizable write, not a replica's read), as
   * soon as the state bucket answers (its stream may be electing too); a counter that moved on
   * makes this node end the lease and step down.
   */
  async #restore(): Promise<void> {
    const sentAt = this.#clock.now();
    const value: PulseLeaseRecord = { ...this.#record!, last_slot: toWire(this.#o.lastSlot?.()) ?? this.#record!.last_slot };
    try {
      this.#revision = await this.kv.create(STATE_KEYS.leader, encodeJson(value));
      this.#record = value;
    } catch (err) {
      if (!(err instanceof KvConflictError)) return this.#renewFailed(err, sentAt, false);
      const cur = await this.#readLease().catch(() => null);
      this.#setLeader(false, cur?.value ? `lease taken by ${cur.value.node_id}` : 'lease expired during a KV outage and could not be re-created');
      if (cur) this.#follow(cur.value);
      return;
    }
    this.#termUnverified = true;
    this.#log.info({ term: this.#term, outage_ms: Math.round(sentAt - (this.#outageSince ?? sentAt)) }, 'the lease expired during a KV outage; re-created it under the same term');
    this.#renewed(sentAt);
    await this.#verifyTerm();
  }

  /** After {@link #restore}: the term counter must still hold this node's term. Transient failures wait for the next renewal. */
  async #verifyTerm(): Promise<void> {
    let ours: boolean;
    try {
      ours = await this.#terms.confirm(this.#term, this.nodeId, this.#record?.last_slot);
    } catch (err) {
      return this.#reachability.failed(err);
    }
    this.#termUnverified = false;
    if (ours) return;
    this.#setLeader(false, 'lease expired during a KV outage and another term began');
    await this.kv.delete(STATE_KEYS.leader, { expectedRevision: this.#revision }).catch(() => {});
  }

  async #release(reason: string): Promise<void> {
    const revision = this.#revision;
    const last = toWire(later(this.#resumeAfter, this.#o.lastSlot?.()));
    try {
      // Leave the last slot in the term record (no TTL) for the next leader, then end the lease.
      await this.#terms.close(this.#term, last, reason);
      await this.kv.delete(STATE_KEYS.leader, { expectedRevision: revision });
      this.#leaderId = null;
      this.#previous = this.nodeId;
      this.#reason = reason;
      this.#log.info({ term: this.#term, reason }, 'released the leader lease');
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not release the leader lease; it expires by its TTL');
    }
  }

  /** The lease was written at or after `sentAt`: it cannot expire before sentAt + ttl. */
  #extend(sentAt: number): void {
    this.#setValidity(sentAt + this.ttlMs - this.fenceMarginMs);
  }

  /** This node may publish until `until` (the fence), and the emitter learns it unless the handover guard still runs. */
  #setValidity(until: number): void {
    this.#validUntil = until;
    this.#cancelFence?.();
    // scheduleAt never fires early (a plain timer may, by a millisecond, and then never again).
    if (this.#isLeader && this.#clock.now() >= this.#publishFrom) this.#o.onDeadline?.(this.#validUntil, this.#term);
    this.#cancelFence = scheduleAt(this.#clock, this.#validUntil, () => {
      if (!this.#isLeader || this.#clock.now() < this.#validUntil) return;
      const beyondGrace = this.#outageSince !== undefined && this.#validUntil >= this.#okSentAt + this.ttlMs - this.fenceMarginMs + this.kvOutageGraceMs;
      this.#setLeader(false, beyondGrace ? `the lease KV stayed unwritable past the outage grace (${this.kvOutageGraceMs} ms)` : 'lease not renewed in time');
    });
  }

  #setLeader(isLeader: boolean, reason: string): void {
    if (this.#isLeader === isLeader) return;
    this.#isLeader = isLeader;
    this.#o.onDeadline?.(isLeader && this.#clock.now() >= this.#publishFrom ? this.#validUntil : 0, this.#term);
    if (!isLeader) {
      this.#validUntil = 0;
      this.#publishFrom = 0;
      this.#outageSince = undefined;
      this.#unsureSince = undefined;
      this.#cancelGuard?.();
      this.#termUnverified = false;
      if (this.#leaderId === this.nodeId) {
        this.#leaderId = null;
        this.#previous = this.nodeId;
      }
      this.#reason = reason;
    }
    this.#log.info({ term: this.#term, reason, previous_leader: this.#previous }, isLeader ? 'became leader' : 'stepped down');
    this.#emit();
  }

  #emit(): void {
    const l = this.leadership();
    for (const listener of this.#listeners) listener(l);
  }
}
