/**
 * The lease machine's state and one step's working copy of it (docs/spec.md §7 Election, terms
 * and fencing). A {@link Turn} copies the state, lets the step's rules change the copy and
 * collects the effects in order; the input state is never changed. The changes every part of
 * the machine shares live here: lead or step down, the fence time, following the lease record,
 * the takeover's newest revision, and how the KV has been answering.
 */
import type { SlotKey } from '@backbeat/core';
import type { Leadership } from './leader-elector.js';
import type { KvFailure, KvOp, LeaseConfig, LeaseEffect, LeaseNow, LeaseTimer } from './machine-io.js';
import { answered, failed, UNKNOWN_REACHABILITY, type Reachability } from './reachability.js';
import { fromWire, later, type PulseLeaseRecord, type TermRead } from './records.js';
import { takeoverDueAt } from './takeover.js';
import type { Predecessor } from './terms.js';

/** A lease being taken: sent at `sentAt`, written at `revision`, its term counted from `tr`. */
export interface Taking {
  readonly sentAt: number;
  readonly record: PulseLeaseRecord;
  readonly revision: number;
  readonly tr: TermRead;
  readonly pred: Predecessor;
  /** Lost races to count the term so far. */
  readonly attempt: number;
}

/** Where a flow goes after the term check: on to the renewal, or it ends. */
export type AfterVerify = 'renew' | 'end';

/** What the KV operation in flight is for: the step of the flow its answer continues. */
export type Phase =
  | { readonly name: 'campaign-read'; readonly takeover: number | undefined }
  | { readonly name: 'fenced-delete'; readonly takeover: number | undefined }
  | { readonly name: 'take-read-term'; readonly replaces: number | undefined; readonly sentAt: number }
  | { readonly name: 'take-write'; readonly take: Taking }
  | { readonly name: 'take-lost-read' }
  | { readonly name: 'count'; readonly take: Taking }
  | { readonly name: 'count-reread'; readonly take: Taking }
  | { readonly name: 'count-rewrite'; readonly take: Taking }
  | { readonly name: 'count-abandon'; readonly failure: KvFailure }
  | { readonly name: 'stop-abandon' }
  | { readonly name: 'verify-read'; readonly then: AfterVerify }
  | { readonly name: 'verify-write'; readonly then: AfterVerify }
  | { readonly name: 'verify-delete'; readonly then: AfterVerify }
  | { readonly name: 'renew'; readonly sentAt: number; readonly value: PulseLeaseRecord }
  | { readonly name: 'renew-conflict-read' }
  | { readonly name: 'restore'; readonly sentAt: number; readonly value: PulseLeaseRecord }
  | { readonly name: 'restore-lost-read' }
  | {
      readonly name: 'release-read';
      readonly reason: string;
      readonly revision: number;
      readonly last: PulseLeaseRecord['last_slot'];
    }
  | { readonly name: 'release-close'; readonly reason: string; readonly revision: number }
  | { readonly name: 'release-delete'; readonly reason: string };

/** Everything the lease machine knows. */
export interface LeaseState {
  readonly cfg: LeaseConfig;
  readonly running: boolean;
  /** A stop waits for the flow in flight ('wait'), then releases a held lease ('release'). */
  readonly stopping: 'wait' | 'release' | undefined;
  /** A campaign, renewal or release is in flight (one at a time). */
  readonly busy: boolean;
  /** Id of the last KV effect. */
  readonly req: number;
  /** The KV operation in flight, when it was sent, and what it is for. */
  readonly op: { readonly req: number; readonly sentAt: number; readonly phase: Phase } | undefined;
  /** A watch saw the lease end: the next campaign runs at once and need not read the lease. */
  readonly leaseEnded: boolean;
  /** The newest lease revision a follower saw (the takeover timer is armed for it). */
  readonly takeoverSeen: number;
  /** The revision a due takeover replaces by compare-and-set. */
  readonly takeover: number | undefined;
  readonly isLeader: boolean;
  /** Revision and value of this leader's last lease write. */
  readonly revision: number;
  readonly record: PulseLeaseRecord | undefined;
  readonly term: number;
  readonly leaderId: string | null;
  readonly previous: string | null;
  readonly reason: string;
  /** The fence: this leader publishes before it (0: not leading). */
  readonly validUntil: number;
  readonly resumeAfter: SlotKey | undefined;
  /** This node fenced itself from its lease: the next campaign ends that lease first. */
  readonly selfFenced: boolean;
  /** Send time of the last write of this term the KV acknowledged. */
  readonly okSentAt: number;
  /** Send time of the first renewal since then whose outcome is unknown (it may have been applied). */
  readonly unsureSince: number | undefined;
  /** When this leader's KV outage began (its first failed renewal), or undefined. */
  readonly outageSince: number | undefined;
  /** A new leader publishes from this time on (the handover guard). */
  readonly publishFrom: number;
  /** The lease was re-created after an outage and the term counter has not been checked yet. */
  readonly termUnverified: boolean;
  /** When a follower that saw the KV fail first found the lease absent (the incumbent's head start). */
  readonly absentSince: number | undefined;
  readonly reach: Reachability;
}

/** A node that has not started. */
export function initialLeaseState(cfg: LeaseConfig): LeaseState {
  return { ...NOT_STARTED, cfg };
}

const NOT_STARTED: Omit<LeaseState, 'cfg'> = {
  running: false,
  stopping: undefined,
  busy: false,
  req: 0,
  op: undefined,
  leaseEnded: false,
  takeoverSeen: 0,
  takeover: undefined,
  isLeader: false,
  revision: 0,
  record: undefined,
  term: 0,
  leaderId: null,
  previous: null,
  reason: '',
  validUntil: 0,
  resumeAfter: undefined,
  selfFenced: false,
  okSentAt: 0,
  unsureSince: undefined,
  outageSince: undefined,
  publishFrom: 0,
  termUnverified: false,
  absentSince: undefined,
  reach: UNKNOWN_REACHABILITY,
};

/** What an elector reports (see Leadership). */
export function leadershipOf(s: LeaseState): Leadership {
  return {
    isLeader: s.isLeader,
    term: s.term,
    leaderId: s.leaderId,
    previousLeaderId: s.previous,
    reason: s.reason,
    lastRenewalAt: s.reach.lastOkAt,
    leaseReachable: s.reach.reachable,
    resumeAfter: s.resumeAfter,
  };
}

/**
 * Until when a leader's lease is held by a write the KV's quorum acknowledged (the take, a
 * renewal, an adopted lost answer, a re-creation): its send time + TTL − margin, capped by the
 * fence `validUntil`. Past it the leader publishes, if at all, on the KV-outage grace; 0 when
 * not leading (docs/spec.md §7 Election, terms and fencing, "Direct fallback").
 */
export function quorumHeldUntil(s: LeaseState, validUntil = s.validUntil): number {
  if (!s.isLeader || validUntil <= 0) return 0;
  return Math.min(validUntil, s.okSentAt + s.cfg.ttlMs - s.cfg.fenceMarginMs);
}

/** The fencing check made before every publish: leading, past the handover guard, before the fence. */
export function mayPublish(s: LeaseState, now: number): boolean {
  return s.isLeader && now >= s.publishFrom && now < s.validUntil;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One step: a working copy of the state and the effects, in order. */
export class Turn {
  readonly s: Mutable<LeaseState>;
  readonly cfg: LeaseConfig;
  readonly effects: LeaseEffect[] = [];
  /** The flow in flight ended in this step. */
  flowEnded = false;
  /** When the request this step answers was sent. */
  answerSentAt: number | undefined;

  constructor(
    state: LeaseState,
    readonly now: LeaseNow,
  ) {
    this.s = { ...state };
    this.cfg = state.cfg;
  }

  /** Issues a KV operation whose answer continues the flow at `phase`. */
  send(op: KvOp, phase: Phase): void {
    const req = this.s.req + 1;
    this.s.req = req;
    this.s.op = { req, sentAt: this.now.at, phase };
    this.effects.push({ type: 'kv', req, op });
  }

  /** The flow in flight is done. */
  endFlow(): void {
    this.s.op = undefined;
    this.flowEnded = true;
  }

  log(level: 'info' | 'warn', fields: Record<string, unknown>, msg: string): void {
    this.effects.push({ type: 'log', level, fields, msg });
  }

  arm(timer: LeaseTimer, at: number): void {
    this.effects.push({ type: 'arm', timer, at });
  }

  disarm(timer: LeaseTimer): void {
    this.effects.push({ type: 'disarm', timer });
  }

  /** The listeners learn the view as it is now. */
  changed(): void {
    this.effects.push({ type: 'changed', leadership: leadershipOf(this.s) });
  }

  /** The publish deadline (0: none) and, within it, how long the lease is held by a quorum write. */
  deadline(validUntil: number): void {
    const quorumUntil = validUntil > 0 ? quorumHeldUntil(this.s, validUntil) : 0;
    const quorumSentAt = quorumUntil > 0 ? this.s.okSentAt : 0;
    this.effects.push({ type: 'deadline', validUntil, term: this.s.term, quorumUntil, quorumSentAt });
  }

  /** The KV answered: what it said is as fresh as the request (an answer may arrive late, after a pause). */
  answered(): void {
    const c = answered(this.s.reach, this.answerSentAt ?? this.now.at, this.now.wall);
    this.s.reach = c.r;
    if (c.flipped) this.changed();
  }

  /** A lease operation failed (a conflict is an answer, not trouble); warned at most every 2 s. */
  failed(f: KvFailure): void {
    const c = failed(this.s.reach, f.kind === 'conflict', this.now.at);
    this.s.reach = c.r;
    if (c.flipped) this.changed();
    if (c.warn)
      this.log(
        'warn',
        { err: f.message, leader: this.s.isLeader, failures: c.warn.failures },
        'lease operation failed',
      );
  }

  setLeader(isLeader: boolean, reason: string): void {
    const s = this.s;
    if (s.isLeader === isLeader) return;
    s.isLeader = isLeader;
    this.deadline(isLeader && this.now.at >= s.publishFrom ? s.validUntil : 0);
    if (!isLeader) {
      s.validUntil = 0;
      s.publishFrom = 0;
      s.outageSince = undefined;
      s.unsureSince = undefined;
      this.disarm('guard');
      this.disarm('fence');
      s.termUnverified = false;
      if (s.leaderId === this.cfg.nodeId) {
        s.leaderId = null;
        s.previous = this.cfg.nodeId;
      }
      s.reason = reason;
    }
    this.log(
      'info',
      { term: s.term, reason, previous_leader: s.previous },
      isLeader ? 'became leader' : 'stepped down',
    );
    this.changed();
  }

  /** The lease was written at or after `sentAt`: it cannot expire before sentAt + ttl. */
  extend(sentAt: number): void {
    this.setValidity(sentAt + this.cfg.ttlMs - this.cfg.fenceMarginMs);
  }

  /** This node may publish until `until` (the fence); the emitter learns it unless the handover guard still runs. */
  setValidity(until: number): void {
    this.s.validUntil = until;
    if (this.s.isLeader && this.now.at >= this.s.publishFrom) this.deadline(until);
    this.arm('fence', until);
  }

  /** The lease record another node wrote (null: a refused value, the last good view stays). */
  follow(v: PulseLeaseRecord | null): void {
    const s = this.s;
    s.absentSince = undefined;
    if (!v) return;
    s.resumeAfter = later(s.resumeAfter, fromWire(v.last_slot));
    if (v.term === s.term && v.node_id === s.leaderId) return;
    if (s.leaderId !== null && s.leaderId !== v.node_id) s.previous = s.leaderId;
    else if (v.previous_node) s.previous = v.previous_node;
    s.term = Math.max(s.term, v.term);
    s.leaderId = v.node_id;
    s.reason = v.reason;
    this.changed();
  }

  /** A follower saw the lease at `revision`, written at `created`: the takeover waits for the newest revision. */
  observe(revision: number, created: number): void {
    const bound = this.cfg.clockOffsetBoundMs;
    if (!this.s.running || this.s.isLeader || bound === undefined || revision <= this.s.takeoverSeen) return;
    this.s.takeoverSeen = revision;
    this.arm('takeover', takeoverDueAt(created, this.cfg.ttlMs, this.cfg.fenceMarginMs, bound));
  }
}
