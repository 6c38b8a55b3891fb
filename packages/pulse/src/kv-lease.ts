/**
 * The default elector: a lease in the cluster's JetStream KV lease bucket, whose TTL is the
 * lease TTL (SPEC 6 and 12; the Pulse checks the bucket's TTL before it builds this).
 * - take it: create-if-absent, then count the leadership: the term counter (state bucket key
 *   `leader-term`, no TTL) is compare-and-set from T to T + 1, so terms read 1, 2, 3 ... and
 *   only grow; the lease value is a LeaseRecord carrying that term, written before the first
 *   frame of the term (clients learn the legitimate term from it alone);
 * - keep it: update with the expected revision, every ttl/4; a renewal whose answer is lost
 *   or conflicts is read back, and a value that is still this node's is adopted;
 * - fencing: the leader stops publishing at (send time of its last successful write +
 *   ttl − margin), before the server can expire the lease, so two leaders never publish;
 * - a node whose clock check refuses it does not take the lease, and a leader releases it;
 * - followers retry on their own timer: nats-server 2.9 sends no watch event on expiry.
 */
import { compareSlots, scheduleAt, systemClock, silentLogger, type Clock, type Logger, type SlotKey, type TimerHandle } from '@backbeat/core';
import { encodeJson, KvConflictError, STATE_KEYS, type KvBucket, type LeaseRecord } from '@backbeat/transport';
import type { LeaderElector, Leadership } from './elector.js';
import { gateLease, gateSlot, gateTermRecord, type GatedKey, type TermRecord, type WireSlot } from './kv-gates.js';

/** State-bucket key of the term counter. */
export const LEADER_TERM_KEY = 'leader-term';

/** The lease value the pulse writes: a LeaseRecord plus why and after what it began. */
export interface PulseLeaseRecord extends LeaseRecord {
  /** The leader before this one, when known. */
  readonly previous_node: string | null;
  /** Why the lease changed hands. */
  readonly reason: string;
  /** The last (beat, phase) this leader sent or saw, refreshed at each renewal. */
  readonly last_slot?: WireSlot;
}

/** Options of {@link KvLeaseElector}. */
export interface KvLeaseOptions {
  /** The cluster's state bucket, where the term counter lives. */
  state: KvBucket;
  /** Lease TTL; must equal the lease bucket's TTL. @default 2000 */
  ttlMs?: number;
  /** Safety margin before expiry at which a leader stops publishing. @default max(100, ttl/8) */
  fenceMarginMs?: number;
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

const toWire = (s: SlotKey | undefined): WireSlot | undefined => (s ? { beat_index: s.beatIndex, phase_index: s.phaseIndex } : undefined);
const fromWire = (s: WireSlot | undefined): SlotKey | undefined => (s ? { beatIndex: s.beat_index, phaseIndex: s.phase_index } : undefined);
const later = (a: SlotKey | undefined, b: SlotKey | undefined): SlotKey | undefined => (!a ? b : !b ? a : compareSlots(a, b) >= 0 ? a : b);

/** The lease as read: null when absent; `value` null when the stored value was refused. */
type LeaseRead = { readonly value: PulseLeaseRecord | null; readonly revision: number } | null;

/** Leader election by a KV lease. */
export class KvLeaseElector implements LeaderElector {
  readonly ttlMs: number;
  readonly fenceMarginMs: number;
  readonly #o: KvLeaseOptions;
  #clock: Clock;
  #log: Logger;
  #listeners = new Set<(l: Leadership) => void>();
  #running = false;
  #timer: TimerHandle | undefined;
  #cancelFence: (() => void) | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #isLeader = false;
  #revision = 0;
  #record: PulseLeaseRecord | undefined;
  #term = 0;
  #leaderId: string | null = null;
  #previous: string | null = null;
  #reason = '';
  #validUntil = 0;
  #lastOkAt: number | null = null;
  #reachable = true;
  #resumeAfter: SlotKey | undefined;
  #selfFenced = false;

  constructor(
    private readonly kv: KvBucket,
    readonly nodeId: string,
    options: KvLeaseOptions,
  ) {
    this.#o = options;
    this.ttlMs = options.ttlMs ?? 2000;
    this.fenceMarginMs = options.fenceMarginMs ?? Math.max(100, this.ttlMs / 8);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#ticking = this.#tick();
    await this.#ticking;
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#cancelFence?.();
    await this.#ticking;
    if (this.#isLeader) {
      this.#setLeader(false, 'stopped');
      await this.#release('released');
    }
  }

  canPublish(now: number): boolean {
    return this.#isLeader && now < this.#validUntil;
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
      lastRenewalAt: this.#lastOkAt,
      leaseReachable: this.#reachable,
      resumeAfter: this.#resumeAfter,
    };
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
      if (this.#isLeader) {
        const refusal = this.#o.refusal?.() ?? null;
        if (refusal) {
          this.#setLeader(false, refusal);
          await this.#release(refusal);
        } else await this.#renew();
      } else await this.#campaign();
    } catch (err) {
      this.#unreachable();
      this.#log.warn({ err: (err as Error).message, leader: this.#isLeader }, 'lease operation failed');
    } finally {
      this.#schedule();
    }
  }

  #ok(): void {
    this.#lastOkAt = this.#clock.wallNow();
    if (!this.#reachable) {
      this.#reachable = true;
      this.#emit();
    }
  }

  #unreachable(): void {
    if (!this.#reachable) return;
    this.#reachable = false;
    this.#emit();
  }

  /** The lease as it is now: null when absent; a refused value counts as absent-but-held. */
  async #readLease(): Promise<LeaseRead> {
    const e = await this.kv.get(STATE_KEYS.leader);
    this.#ok();
    if (!e) return null;
    const r = gateLease(e.value);
    if (!r.ok) {
      this.#o.onRefused?.('leader', r.reason);
      return { value: null, revision: e.revision };
    }
    const v = r.value as PulseLeaseRecord;
    return { value: { ...v, previous_node: typeof v.previous_node === 'string' ? v.previous_node : null, reason: String(v.reason ?? ''), last_slot: gateSlot(v.last_slot) }, revision: e.revision };
  }

  async #readTerm(): Promise<{ value: TermRecord | null; revision: number } | null> {
    const e = await this.#o.state.get(LEADER_TERM_KEY);
    if (!e) return null;
    const r = gateTermRecord(e.value);
    if (!r.ok) this.#o.onRefused?.('leader-term', r.reason);
    return { value: r.ok ? r.value : null, revision: e.revision };
  }

  async #campaign(): Promise<void> {
    const cur = await this.#readLease();
    if (cur) {
      const mine = cur.value?.node_id === this.nodeId && cur.value.term === this.#term;
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
    await this.#acquire();
  }

  #follow(v: PulseLeaseRecord | null): void {
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

  async #acquire(): Promise<void> {
    const sentAt = this.#clock.now();
    let tr = await this.#readTerm();
    // A refused counter value: its revision bounds every term ever written, so it is safe.
    const base = (t: typeof tr) => Math.max(this.#term, t ? (t.value ? t.value.term : t.revision) : 0);
    this.#resumeAfter = later(later(this.#resumeAfter, fromWire(tr?.value?.last_slot)), this.#o.lastSlot?.());
    const ended = tr?.value && tr.value.term >= this.#term ? tr.value.ended : undefined;
    const reason = ended ? `${tr!.value!.node_id} ${ended}` : !tr && this.#term === 0 ? 'first leader' : 'lease expired';
    let record: PulseLeaseRecord = {
      node_id: this.nodeId,
      term: base(tr) + 1,
      acquired_at: new Date(this.#clock.wallNow()).toISOString(),
      previous_node: this.#leaderId ?? this.#previous ?? tr?.value?.node_id ?? null,
      reason,
      last_slot: toWire(this.#resumeAfter),
    };
    let revision: number;
    try {
      revision = await this.kv.create(STATE_KEYS.leader, encodeJson(record));
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
      const cur = await this.#readLease();
      if (cur) this.#follow(cur.value);
      return;
    }
    this.#ok();
    // Count the leadership. A lost race means another node counted a term meanwhile: take the next one.
    for (let attempt = 0; ; attempt++) {
      const counter: TermRecord = { term: record.term, node_id: this.nodeId, acquired_at: record.acquired_at, last_slot: record.last_slot };
      try {
        if (tr) await this.#o.state.update(LEADER_TERM_KEY, encodeJson(counter), tr.revision);
        else await this.#o.state.create(LEADER_TERM_KEY, encodeJson(counter));
        break;
      } catch (err) {
        if (!(err instanceof KvConflictError) || attempt >= 3) {
          await this.kv.delete(STATE_KEYS.leader, { expectedRevision: revision }).catch(() => {});
          throw err;
        }
        tr = await this.#readTerm();
        record = { ...record, term: base(tr) + 1 };
        revision = await this.kv.update(STATE_KEYS.leader, encodeJson(record), revision);
      }
    }
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
    this.#extend(sentAt);
    this.#setLeader(true, reason);
  }

  async #renew(): Promise<void> {
    const sentAt = this.#clock.now();
    const value: PulseLeaseRecord = { ...this.#record!, last_slot: toWire(this.#o.lastSlot?.()) ?? this.#record!.last_slot };
    try {
      this.#revision = await this.kv.update(STATE_KEYS.leader, encodeJson(value), this.#revision);
      this.#record = value;
      this.#extend(sentAt);
      this.#ok();
      return;
    } catch (err) {
      // The answer may be lost (applied but not acknowledged), or it conflicts: read it back.
      let cur: LeaseRead;
      try {
        cur = await this.#readLease();
      } catch {
        this.#unreachable(); // the fence timer steps down before the lease can expire
        throw err;
      }
      if (cur?.value && cur.value.node_id === this.nodeId && cur.value.term === this.#term) {
        if (cur.revision > this.#revision) {
          // Only this node writes its record, and only this write was outstanding: it was applied after sentAt.
          this.#revision = cur.revision;
          this.#record = value;
          this.#extend(sentAt);
          this.#log.info({ term: this.#term, revision: cur.revision }, 'a renewal answer was lost; the lease is still ours: adopted its revision');
        }
        return;
      }
      this.#setLeader(false, cur?.value ? `lease taken by ${cur.value.node_id}` : 'lease expired before it was renewed');
      if (cur) this.#follow(cur.value);
    }
  }

  async #release(reason: string): Promise<void> {
    const revision = this.#revision;
    const last = toWire(later(this.#resumeAfter, this.#o.lastSlot?.()));
    try {
      // Leave the last slot in the term record (no TTL) for the next leader, then end the lease.
      const tr = await this.#readTerm();
      if (tr?.value && tr.value.term === this.#term) await this.#o.state.update(LEADER_TERM_KEY, encodeJson({ ...tr.value, last_slot: last, ended: reason }), tr.revision).catch(() => {});
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
    this.#validUntil = sentAt + this.ttlMs - this.fenceMarginMs;
    this.#cancelFence?.();
    // scheduleAt never fires early (a plain timer may, by a millisecond, and then never again).
    if (this.#isLeader) this.#o.onDeadline?.(this.#validUntil, this.#term);
    this.#cancelFence = scheduleAt(this.#clock, this.#validUntil, () => {
      if (this.#isLeader && this.#clock.now() >= this.#validUntil) this.#setLeader(false, 'lease not renewed in time');
    });
  }

  #setLeader(isLeader: boolean, reason: string): void {
    if (this.#isLeader === isLeader) return;
    this.#isLeader = isLeader;
    this.#o.onDeadline?.(isLeader ? this.#validUntil : 0, this.#term);
    if (!isLeader) {
      this.#validUntil = 0;
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
