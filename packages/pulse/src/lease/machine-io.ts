/**
 * What goes into the lease machine and what comes out of it (docs/spec.md §7 Election, terms and
 * fencing). Events are what the shell saw: KV answers (with revision and server time), a timer
 * that fired, a watch update of the lease key, a stop or self-fence request. Effects are what the
 * shell does: a KV operation (with the expected revision of a compare-and-set), arm or disarm a
 * timer, open or close the publish fence (term + fence time), tell the listeners, log.
 */
import type { SlotKey } from '@backbeat/core';
import type { Leadership } from './leader-elector.js';
import type { TermRecord } from './lease-gates.js';
import type { OutageTimings } from './outage.js';
import type { LeaseRead, PulseLeaseRecord, TermRead } from './records.js';

/**
 * What the shell reads at each step: `at` on the fence's clock (clock.now()), `wall` on the wall
 * clock (takeover times and record timestamps are the servers' wall time), the last slot on the
 * wire, and why the clock check refuses this node now (null: it may lead).
 */
export interface LeaseNow {
  readonly at: number;
  readonly wall: number;
  readonly lastSlot: SlotKey | undefined;
  readonly refusal: string | null;
  /**
   * Send time (the fence clock) of the latest frame of the current term that the beat stream
   * stored (`--beat-fencing server`), or undefined: the KV-outage evidence of outage.ts.
   */
  readonly beatStoredAt?: number | undefined;
}

/**
 * The machine's timers: the next tick, the fence, the handover guard (`at` on the fence clock),
 * the takeover (`at` on the wall clock).
 */
export type LeaseTimer = 'tick' | 'fence' | 'guard' | 'takeover';

/** One KV operation: on the lease key (lease bucket) or the term counter (state bucket). */
export type KvOp =
  | { readonly key: 'lease'; readonly op: 'get' }
  | { readonly key: 'lease'; readonly op: 'create'; readonly value: PulseLeaseRecord }
  | {
      readonly key: 'lease';
      readonly op: 'update';
      readonly value: PulseLeaseRecord;
      readonly expectedRevision: number;
    }
  | { readonly key: 'lease'; readonly op: 'delete'; readonly expectedRevision: number }
  | { readonly key: 'term'; readonly op: 'get' }
  | { readonly key: 'term'; readonly op: 'create'; readonly value: TermRecord }
  | { readonly key: 'term'; readonly op: 'update'; readonly value: TermRecord; readonly expectedRevision: number };

/**
 * Why a KV operation failed: a compare-and-set lost ('conflict', an answer of the stream's
 * leader), nobody can write ('no-responders': the stream has no leader, outage.ts), or anything
 * else ('failed': a timeout, a lost connection; the write may have been applied).
 */
export interface KvFailure {
  readonly kind: 'conflict' | 'no-responders' | 'failed';
  readonly message: string;
}

/** A KV answer: a write's revision, or what a get read (null: absent), or the failure. */
export type KvAnswer =
  | { readonly ok: true; readonly revision?: number; readonly lease?: LeaseRead; readonly counter?: TermRead }
  | { readonly ok: false; readonly failure: KvFailure };

/** What the shell saw. */
export type LeaseEvent =
  /** Start campaigning. */
  | { readonly type: 'start' }
  /** Stop: release a held lease, then report `stopped`. */
  | { readonly type: 'stop' }
  /** Stop publishing at once for `reason`, without touching the lease (a stalled connection). */
  | { readonly type: 'fence'; readonly reason: string }
  /** A timer armed by an `arm` effect fired. */
  | { readonly type: 'timer'; readonly timer: LeaseTimer }
  /** The answer to the KV effect `req`. */
  | { readonly type: 'kv'; readonly req: number; readonly answer: KvAnswer }
  /** The watch of the lease key saw a write at `revision`, made at `created` (server wall time). */
  | { readonly type: 'lease-written'; readonly revision: number; readonly created: number }
  /** The watch of the lease key saw it deleted or expired (a limit marker). */
  | { readonly type: 'lease-ended' };

/** What the shell does. */
export type LeaseEffect =
  | { readonly type: 'kv'; readonly req: number; readonly op: KvOp }
  /** Arm `timer` for `at` (replacing the one armed before); the takeover's `at` is wall time. */
  | { readonly type: 'arm'; readonly timer: LeaseTimer; readonly at: number }
  | { readonly type: 'disarm'; readonly timer: LeaseTimer }
  /**
   * Publishing is allowed until `validUntil` under `term`; 0: it is not. `quorumUntil` (at most
   * `validUntil`): until then the lease is held by a write the KV's quorum acknowledged (its
   * send time + TTL − margin), not by the KV-outage grace; the beat's direct fallback is allowed
   * only before it (docs/spec.md §7 Election, terms and fencing, "Direct fallback"). `quorumSentAt`:
   * when that write was sent (0 when none holds it).
   */
  | {
      readonly type: 'deadline';
      readonly validUntil: number;
      readonly term: number;
      readonly quorumUntil: number;
      readonly quorumSentAt: number;
    }
  /** The view of leadership changed. */
  | { readonly type: 'changed'; readonly leadership: Leadership }
  | {
      readonly type: 'log';
      readonly level: 'info' | 'warn';
      readonly fields: Record<string, unknown>;
      readonly msg: string;
    }
  /** A campaign or renewal ended; nothing is in flight. */
  | { readonly type: 'idle' }
  /** The stop is done (a held lease released or given up). */
  | { readonly type: 'stopped' };

/** The machine's fixed settings. */
export interface LeaseConfig {
  readonly nodeId: string;
  readonly ttlMs: number;
  readonly fenceMarginMs: number;
  readonly kvOutageGraceMs: number;
  /** The clock-offset bound of the clock check, or undefined: no takeover (takeover.ts). */
  readonly clockOffsetBoundMs: number | undefined;
  /** Derived from the TTL (outage.ts). */
  readonly timings: OutageTimings;
}
