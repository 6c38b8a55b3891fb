/**
 * The KV-outage rules of the lease (docs/decisions/0002-kv-outage-grace.md): what a leader may do
 * while nobody can write the lease bucket, and what a node that takes an expired lease must wait for.
 *
 * On nats-server 2.9 a kill -9 of the node leading the lease bucket's stream leaves the stream
 * without a leader for 4 to 9 s (measured; the probe answers "no responders" within 1 to 5 ms
 * meanwhile, and the replicas expire the lease by the bucket TTL). Nobody can renew the lease
 * then, and nobody can take it either. So a leader whose renewal gets "no responders" may keep
 * publishing past its lease, but only
 * - on fresh evidence: each such answer is good for {@link OutageTimings.evidenceMs} after the
 *   attempt was sent, and a node whose validity lapsed never gets it back (a SIGSTOPped or
 *   starved node cannot be extended by failures it did not observe in time);
 * - up to the grace: never later than (last successful renewal + TTL - margin + grace).
 * Timeouts and a lost connection are no evidence: a timeout may be a lost answer or a slow
 * server, and a node cut off from NATS cannot know whether the others can write.
 * A node taking a lease that expired while it saw the KV fail waits
 * {@link OutageTimings.handoverGuardMs} before its first frame: longer than the old leader
 * needs to learn that the lease is gone (its next attempt) or to lose its evidence.
 */
import { NoRespondersError } from '@backbeat/transport';

/** Default of `kvOutageGraceMs` (`--kv-outage-grace`): above the 4 to 9 s stream elections on nats-server 2.9. */
export const DEFAULT_KV_OUTAGE_GRACE_MS = 15_000;

/** Renewal attempts of a leader in a KV outage, ms apart. */
export const OUTAGE_RETRY_MS = 150;

/** Timings derived from the lease TTL. */
export interface OutageTimings {
  /** Timeout of each lease or term-counter request. */
  readonly requestTimeoutMs: number;
  /** How long one "no responders" answer lets a leader publish, from the attempt's send time. */
  readonly evidenceMs: number;
  /** What a node that took an expired lease during an outage waits before its first frame. */
  readonly handoverGuardMs: number;
}

/** Request timeout of lease operations: a quarter of the TTL, within 200..1000 ms. */
export function leaseRequestTimeoutMs(ttlMs: number): number {
  return Math.min(1000, Math.max(200, Math.round(ttlMs / 4)));
}

/**
 * The outage timings for a lease TTL. Evidence covers one lost or timed-out attempt between
 * two answers (two retry intervals and a request timeout, plus 100 ms of event-loop slack);
 * the guard adds 200 ms for the servers' views of a new stream leader to agree.
 */
export function outageTimings(ttlMs: number): OutageTimings {
  const requestTimeoutMs = leaseRequestTimeoutMs(ttlMs);
  const evidenceMs = 2 * OUTAGE_RETRY_MS + requestTimeoutMs + 100;
  return { requestTimeoutMs, evidenceMs, handoverGuardMs: evidenceMs + 200 };
}

/** True when a failed lease write says that nobody can write the lease now (no stream leader). */
export function isOutageEvidence(err: unknown): boolean {
  return err instanceof NoRespondersError;
}

/** What a leader may publish until after a failed renewal, or null when it must step down. */
export function outageValidity(a: {
  /** Now, on the fence's clock. */
  readonly now: number;
  /** The validity the leader has now. */
  readonly validUntil: number;
  /**
   * When the evidence was gathered (the failed attempt's send time for "no responders", a stored
   * beat frame's for the beat stream's evidence), or undefined: none.
   */
  readonly evidenceAt: number | undefined;
  /** Send time of the last write the KV acknowledged. */
  readonly okSentAt: number;
  readonly ttlMs: number;
  readonly fenceMarginMs: number;
  readonly graceMs: number;
  readonly timings: OutageTimings;
}): number | null {
  if (a.now >= a.validUntil) return null; // lapsed: never extended after the fact
  if (a.evidenceAt === undefined || a.graceMs <= 0) return a.validUntil;
  const graceEnd = a.okSentAt + a.ttlMs - a.fenceMarginMs + a.graceMs;
  return Math.max(a.validUntil, Math.min(graceEnd, a.evidenceAt + a.timings.evidenceMs));
}

/**
 * The evidence of a failed renewal that another node cannot be leading (docs/decisions/0002-kv-outage-grace.md):
 * - "no responders" from the lease's stream: nobody can write the lease; good from the attempt's send time;
 * - otherwise (a timeout: the stream may be electing behind a route the network holds), a frame of
 *   this term that the beat stream stored (`--beat-fencing server`): its write reached the
 *   stream's quorum, and the stream refuses it once another leader wrote, so this leader writes
 *   through the majority and nobody else has begun; good from that write's send time.
 * Undefined when the failure is none of these (a conflict is an answer, not an outage).
 */
export function outageEvidence(a: {
  readonly outage: boolean;
  readonly noResponders: boolean;
  readonly sentAt: number;
  readonly beatStoredAt: number | undefined;
}): { readonly at: number; readonly by: 'kv' | 'beat-stream' } | undefined {
  if (!a.outage) return undefined;
  if (a.noResponders) return { at: a.sentAt, by: 'kv' };
  return a.beatStoredAt === undefined ? undefined : { at: a.beatStoredAt, by: 'beat-stream' };
}

/**
 * Whether a node that just took the lease waits the handover guard: the previous term was not
 * ended cleanly by another node, and this node saw the lease KV fail recently enough that the
 * previous leader may still be publishing on its outage grace.
 */
export function needsHandoverGuard(a: {
  readonly now: number;
  readonly graceMs: number;
  readonly ttlMs: number;
  /** Holder of the previous term, when known. */
  readonly previousNode: string | null | undefined;
  readonly nodeId: string;
  /** The previous term was released or ended cleanly. */
  readonly endedCleanly: boolean;
  /** Last time this node's lease operations failed for a transient reason. */
  readonly troubleAt: number | undefined;
}): boolean {
  if (a.graceMs <= 0 || a.endedCleanly || a.troubleAt === undefined) return false;
  if (a.previousNode == null || a.previousNode === a.nodeId) return false;
  return outageJustEnded(a.now, a.troubleAt, a.ttlMs);
}

/**
 * True when this node's lease operations failed within the last TTL: the KV may only now be
 * answering again, and a leader riding out the outage may not have renewed yet. A KV that
 * answered this node for a whole TTL answered the leader too (unless the leader is cut off,
 * and then no short guard would help): a lease that expired meanwhile has no holder left.
 */
export function outageJustEnded(now: number, troubleAt: number | undefined, ttlMs: number): boolean {
  return troubleAt !== undefined && now - troubleAt < ttlMs;
}
