/**
 * A follower's campaign (docs/spec.md §7 Election, terms and fencing): read the lease and follow
 * its holder, or take it when it is absent (create-if-absent) or due for a takeover
 * (compare-and-set on the revision seen, takeover.ts), then count the term on the term counter
 * (compare-and-set from T to T + 1; a lost race takes the next term, terms.ts). A node whose
 * clock check refuses it does not take the lease. After a KV outage the previous holder gets a
 * head start, and a node that takes a lease which expired during an outage waits the handover
 * guard before its first frame (outage.ts).
 */
import type { KvAnswer, KvFailure } from './machine-io.js';
import { needsHandoverGuard, OUTAGE_RETRY_MS, outageJustEnded } from './outage.js';
import { wasBlind } from './reachability.js';
import { fromWire, later, toWire, type PulseLeaseRecord } from './records.js';
import { COUNT_ATTEMPTS, countedTerm, nextTerm, predecessor } from './terms.js';
import type { Phase, Taking, Turn } from './turn.js';

/** How long a follower that saw the KV fail leaves an absent lease to its previous holder (two of its retries). */
export const INCUMBENT_HEAD_START_MS = 2 * OUTAGE_RETRY_MS;

type On<N extends Phase['name']> = (t: Turn, p: Extract<Phase, { name: N }>, a: KvAnswer) => void;

/** A campaign tick begins. */
export function campaign(t: Turn): void {
  // After a delete seen by the watch, go straight to the create (a compare-and-set): a read
  // may be served by a replica that has not applied the delete yet.
  const { leaseEnded: ended, takeover } = t.s;
  t.s.reach = wasBlind(t.s.reach, t.now.at, t.cfg.ttlMs);
  t.s.leaseEnded = false;
  t.s.takeover = undefined;
  if (ended) return leaseAbsent(t, takeover);
  t.send({ key: 'lease', op: 'get' }, { name: 'campaign-read', takeover });
}

/** No lease: /leader never names a node that is not publishing; then try to take it. */
function leaseAbsent(t: Turn, takeover: number | undefined): void {
  if (t.s.leaderId !== null) {
    t.s.previous = t.s.leaderId;
    t.s.leaderId = null;
    t.s.reason = 'lease ended';
    t.changed();
  }
  tryTake(t, takeover);
}

function tryTake(t: Turn, takeover: number | undefined): void {
  const { s, now, cfg } = t;
  if (!s.running || now.refusal) return t.endFlow();
  // After a KV outage the previous leader may be riding it out: it re-creates the lease within
  // a retry or two. Give it that head start rather than a handover with a guard.
  const outage =
    cfg.kvOutageGraceMs > 0 && outageJustEnded(now.at, s.reach.troubleAt, cfg.ttlMs) && s.previous !== cfg.nodeId;
  if (outage) {
    s.absentSince ??= now.at;
    if (now.at - s.absentSince < INCUMBENT_HEAD_START_MS) return t.endFlow();
  }
  s.absentSince = undefined;
  // Take the lease: create-if-absent, or (`replaces`) compare-and-set over a lease not renewed in time.
  t.send({ key: 'term', op: 'get' }, { name: 'take-read-term', replaces: takeover, sentAt: now.at });
}

const campaignRead: On<'campaign-read'> = (t, p, a) => {
  if (!a.ok) return failedFlow(t, a.failure);
  t.answered();
  const cur = a.lease ?? null;
  if (!cur) return leaseAbsent(t, p.takeover);
  const mine = cur.value?.node_id === t.cfg.nodeId && cur.value.term === t.s.term;
  t.observe(cur.revision, cur.created);
  if (!(mine && t.s.selfFenced)) {
    t.follow(cur.value);
    return t.endFlow();
  }
  // This node fenced itself from this very lease: end it, so a new term starts now.
  t.send(
    { key: 'lease', op: 'delete', expectedRevision: cur.revision },
    { name: 'fenced-delete', takeover: p.takeover },
  );
};

const fencedDelete: On<'fenced-delete'> = (t, p, a) => {
  if (!a.ok) return a.failure.kind === 'conflict' ? t.endFlow() : failedFlow(t, a.failure);
  t.s.selfFenced = false;
  tryTake(t, p.takeover);
};

const takeReadTerm: On<'take-read-term'> = (t, p, a) => {
  if (!a.ok) return failedFlow(t, a.failure);
  const { s, now, cfg } = t;
  const tr = a.counter ?? null;
  s.resumeAfter = later(later(s.resumeAfter, fromWire(tr?.value?.last_slot)), now.lastSlot);
  const pred = predecessor(tr, s.term);
  const record: PulseLeaseRecord = {
    node_id: cfg.nodeId,
    term: nextTerm(s.term, tr),
    acquired_at: new Date(now.wall).toISOString(),
    previous_node: s.leaderId ?? s.previous ?? tr?.value?.node_id ?? null,
    reason: pred.reason,
    last_slot: toWire(s.resumeAfter),
  };
  const take: Taking = { sentAt: p.sentAt, record, revision: 0, tr, pred, attempt: 0 };
  const value = record;
  if (p.replaces === undefined) t.send({ key: 'lease', op: 'create', value }, { name: 'take-write', take });
  else t.send({ key: 'lease', op: 'update', value, expectedRevision: p.replaces }, { name: 'take-write', take });
};

const takeWrite: On<'take-write'> = (t, p, a) => {
  if (!a.ok) {
    if (a.failure.kind !== 'conflict') return failedFlow(t, a.failure);
    return t.send({ key: 'lease', op: 'get' }, { name: 'take-lost-read' });
  }
  t.answered();
  count(t, { ...p.take, revision: a.revision! });
};

const takeLostRead: On<'take-lost-read'> = (t, _p, a) => {
  if (!a.ok) return failedFlow(t, a.failure);
  t.answered();
  if (a.lease) t.follow(a.lease.value);
  t.endFlow();
};

/** Counts the leadership: the counter from the value read before to this lease's term. */
function count(t: Turn, take: Taking): void {
  const value = countedTerm(take.record);
  if (take.tr)
    t.send({ key: 'term', op: 'update', value, expectedRevision: take.tr.revision }, { name: 'count', take });
  else t.send({ key: 'term', op: 'create', value }, { name: 'count', take });
}

const counted: On<'count'> = (t, p, a) => {
  if (a.ok) return won(t, p.take);
  // A lost race means another node counted a term meanwhile: take the next one (the lease is
  // rewritten under it) and count again. Any other failure, or the last lost race, ends the
  // lease (best effort) and fails the campaign.
  if (a.failure.kind === 'conflict' && p.take.attempt < COUNT_ATTEMPTS - 1) {
    return t.send({ key: 'term', op: 'get' }, { name: 'count-reread', take: p.take });
  }
  const end = { key: 'lease', op: 'delete', expectedRevision: p.take.revision } as const;
  t.send(end, { name: 'count-abandon', failure: a.failure });
};

const countReread: On<'count-reread'> = (t, p, a) => {
  if (!a.ok) return failedFlow(t, a.failure);
  const tr = a.counter ?? null;
  const record = { ...p.take.record, term: nextTerm(t.s.term, tr) };
  const take = { ...p.take, record, tr };
  t.send(
    { key: 'lease', op: 'update', value: record, expectedRevision: p.take.revision },
    { name: 'count-rewrite', take },
  );
};

const countRewrite: On<'count-rewrite'> = (t, p, a) => {
  if (!a.ok) return failedFlow(t, a.failure);
  count(t, { ...p.take, revision: a.revision!, attempt: p.take.attempt + 1 });
};

const countAbandon: On<'count-abandon'> = (t, p) => failedFlow(t, p.failure);

const stopAbandon: On<'stop-abandon'> = (t) => t.endFlow();

/** The lease is this node's and its term counted. */
function won(t: Turn, take: Taking): void {
  const { s, now, cfg } = t;
  if (!s.running) {
    return t.send({ key: 'lease', op: 'delete', expectedRevision: take.revision }, { name: 'stop-abandon' });
  }
  const { record, pred } = take;
  s.revision = take.revision;
  s.record = record;
  if (s.leaderId !== null && s.leaderId !== cfg.nodeId) s.previous = s.leaderId;
  else s.previous = record.previous_node;
  s.term = record.term;
  s.leaderId = cfg.nodeId;
  s.reason = pred.reason;
  s.okSentAt = take.sentAt;
  s.unsureSince = undefined;
  s.outageSince = undefined;
  const guard = needsHandoverGuard({
    now: now.at,
    graceMs: cfg.kvOutageGraceMs,
    ttlMs: cfg.ttlMs,
    previousNode: pred.holder,
    nodeId: cfg.nodeId,
    endedCleanly: pred.ended !== undefined,
    troubleAt: s.reach.troubleAt,
  });
  // The previous leader may still be publishing on its outage grace: let it learn first.
  s.publishFrom = guard ? now.at + cfg.timings.handoverGuardMs : 0;
  t.extend(take.sentAt);
  t.setLeader(true, pred.reason);
  if (guard) {
    const fields = { term: s.term, guard_ms: cfg.timings.handoverGuardMs, previous_leader: pred.holder };
    t.log('info', fields, 'took a lease that expired during a KV outage: first frame after the handover guard');
    t.arm('guard', s.publishFrom);
  }
  t.endFlow();
}

/** A step of the campaign failed: the KV counts as unreachable until it answers again. */
function failedFlow(t: Turn, failure: KvFailure): void {
  t.failed(failure);
  t.endFlow();
}

/** The campaign's steps, by the phase an answer continues. */
export const campaignSteps = {
  'campaign-read': campaignRead,
  'fenced-delete': fencedDelete,
  'take-read-term': takeReadTerm,
  'take-write': takeWrite,
  'take-lost-read': takeLostRead,
  count: counted,
  'count-reread': countReread,
  'count-rewrite': countRewrite,
  'count-abandon': countAbandon,
  'stop-abandon': stopAbandon,
};
