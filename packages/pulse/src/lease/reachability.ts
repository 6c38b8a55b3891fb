/**
 * Whether the lease KV answers one node's lease operations (docs/spec.md §7 Election, terms and
 * fencing): reachable or not and when it last answered (as Leadership reports them), when an
 * operation last failed for a transient reason (the KV-outage rules of outage.ts read it), and
 * the warning for failed operations, at most every 2 s. Pure: the lease machine keeps the record
 * in its state and turns what these return into effects.
 */

/** Failures of lease operations are logged at most this often (a leader in an outage retries every 150 ms). */
export const WARN_EVERY_MS = 2000;

/** How the lease KV has been answering this node. */
export interface Reachability {
  /** Wall time (ms) of the last answer, or null. */
  readonly lastOkAt: number | null;
  /** Send time (the fence clock) of the last request the KV answered, or undefined. */
  readonly answeredAt: number | undefined;
  /** False while the last lease operation failed. */
  readonly reachable: boolean;
  /** Last time (the fence clock) a lease operation failed for a transient reason, or undefined. */
  readonly troubleAt: number | undefined;
  readonly lastWarnAt: number;
  readonly failuresSinceWarn: number;
}

/** Nothing known yet. */
export const UNKNOWN_REACHABILITY: Reachability = {
  lastOkAt: null,
  answeredAt: undefined,
  reachable: true,
  troubleAt: undefined,
  lastWarnAt: -Infinity,
  failuresSinceWarn: 0,
};

/** What an answer or a failure changed: the new record, whether `reachable` flipped, a warning to log. */
export interface ReachabilityChange {
  readonly r: Reachability;
  readonly flipped: boolean;
  readonly warn?: { readonly failures: number };
}

/** The KV answered, at wall time `wall`, a request sent at `sentAt` (the fence clock). */
export function answered(r: Reachability, sentAt: number, wall: number): ReachabilityChange {
  return { r: { ...r, lastOkAt: wall, answeredAt: sentAt, reachable: true }, flipped: !r.reachable };
}

/**
 * A node that heard no answer from the KV for a whole TTL (paused, or its event loop stalled)
 * cannot tell whether a KV outage began and ended meanwhile: that counts as trouble at `now`,
 * like a failure it saw (outage.ts: the incumbent's head start and the handover guard).
 */
export function wasBlind(r: Reachability, now: number, ttlMs: number): Reachability {
  return r.answeredAt !== undefined && now - r.answeredAt > ttlMs ? { ...r, troubleAt: now } : r;
}

/**
 * A lease operation failed at `now` (the fence clock): unreachable, remembered as trouble unless
 * it was a conflict (a conflict is an answer), and a warning at most every {@link WARN_EVERY_MS}.
 */
export function failed(r: Reachability, conflict: boolean, now: number): ReachabilityChange {
  const failures = r.failuresSinceWarn + 1;
  const next = { ...r, reachable: false, troubleAt: conflict ? r.troubleAt : now, failuresSinceWarn: failures };
  if (now - r.lastWarnAt < WARN_EVERY_MS) return { r: next, flipped: r.reachable };
  return { r: { ...next, lastWarnAt: now, failuresSinceWarn: 0 }, flipped: r.reachable, warn: { failures } };
}
