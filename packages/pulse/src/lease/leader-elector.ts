/**
 * Leader election (BACKBEAT-REQ-001): who may publish BeatFrames. A strategy behind one
 * interface: the KV lease by default (kv-lease-elector.ts), a single-node elector for dev
 * (single-node-elector.ts).
 */
import type { SlotKey } from '@backbeat/core';

/** What an elector knows about leadership. */
export interface Leadership {
  /** True while this node holds the lease. */
  readonly isLeader: boolean;
  /** Term of the current leader as far as this node knows (0: none seen). Counts leaderships. */
  readonly term: number;
  /** Node id of the current leader, when known. */
  readonly leaderId: string | null;
  /** The leader before the current one, when known. */
  readonly previousLeaderId?: string | null;
  /** Why leadership last changed (e.g. 'lease expired', 'released', 'clock offset ...'). */
  readonly reason?: string;
  /** Wall time (ms) of this node's last successful lease write or read, or null. */
  readonly lastRenewalAt?: number | null;
  /** False while this node's last lease operation failed (the KV did not answer). */
  readonly leaseReachable?: boolean;
  /** Last (beat, phase) the previous leaderships recorded: a new leader resumes strictly after it. */
  readonly resumeAfter?: SlotKey;
}

/** Chooses one publisher per cluster, with fencing. */
export interface LeaderElector {
  start(): Promise<void>;
  /** Stops campaigning and releases a held lease, so another node can take over at once. */
  stop(): Promise<void>;
  /**
   * Fencing check, made before every publish (docs/spec.md §7 Election, terms and fencing): true
   * only while this node holds a lease that cannot have expired at `now`.
   */
  canPublish(now: number): boolean;
  /** Current view of leadership. */
  leadership(): Leadership;
  /** Called on every change of leadership as seen by this node; returns the unsubscribe. */
  onChange(listener: (l: Leadership) => void): () => void;
  /**
   * Stops publishing at once, for `reason` (e.g. a stalled connection), without touching the
   * lease; the node campaigns again like any follower. Optional: the single-node elector has
   * nobody to hand over to.
   */
  fence?(reason: string): void;
}
