/**
 * A leader keeps its lease (docs/spec.md §7 Election, terms and fencing): update with the
 * expected revision every TTL/4, and move the fence to (send time of the last acknowledged write
 * + TTL − margin). A renewal whose answer is lost, or that conflicts, is read back and a value
 * still this node's is adopted. While renewals get "no responders" the leader publishes on the
 * KV-outage grace (outage.ts, docs/decisions/0002-kv-outage-grace.md); when the KV answers, a
 * lease still ours is kept, an expired one is re-created under the same term and the term counter
 * must then still hold that term (checked by compare-and-set); anything else steps down.
 */
import type { KvAnswer, KvFailure } from './machine-io.js';
import { outageEvidence, outageValidity } from './outage.js';
import { toWire, type PulseLeaseRecord } from './records.js';
import { holdsTerm } from './terms.js';
import type { AfterVerify, Phase, Turn } from './turn.js';

/** What a leader logs when it begins to ride the KV-outage grace, by the evidence it has. */
const GRACE_ON_NO_RESPONDERS =
  'the lease KV has no stream leader: nobody can take the lease; publishing on the KV-outage grace';
const GRACE_ON_BEAT_STREAM =
  "the lease KV does not answer; the beat stream still stores this term's frames: publishing on the KV-outage grace";

type On<N extends Phase['name']> = (t: Turn, p: Extract<Phase, { name: N }>, a: KvAnswer) => void;

/** A leader's tick: check the term first when the lease was re-created after an outage, then renew. */
export function renew(t: Turn): void {
  if (t.s.termUnverified) return verifyTerm(t, 'renew');
  renewWrite(t);
}

/** The lease value to write now: this term's record with the last slot on the wire. */
function currentValue(t: Turn): PulseLeaseRecord {
  const record = t.s.record!;
  return { ...record, last_slot: toWire(t.now.lastSlot) ?? record.last_slot };
}

function renewWrite(t: Turn): void {
  if (!t.s.isLeader) return t.endFlow();
  const value = currentValue(t);
  const update = { key: 'lease', op: 'update', value, expectedRevision: t.s.revision } as const;
  t.send(update, { name: 'renew', sentAt: t.now.at, value });
}

const renewed: On<'renew'> = (t, p, a) => {
  if (a.ok) {
    t.s.revision = a.revision!;
    t.s.record = p.value;
    acknowledged(t, p.sentAt);
    return t.endFlow();
  }
  if (a.failure.kind === 'conflict') return t.send({ key: 'lease', op: 'get' }, { name: 'renew-conflict-read' });
  renewFailed(t, a.failure, p.sentAt, true);
  t.endFlow();
};

/** A write of this term was acknowledged (or adopted): sent at `sentAt`, the lease lives until sentAt + ttl. */
function acknowledged(t: Turn, sentAt: number): void {
  const { s, cfg } = t;
  s.okSentAt = sentAt;
  s.unsureSince = undefined;
  if (s.outageSince !== undefined) {
    t.log(
      'info',
      { term: s.term, outage_ms: Math.round(t.now.at - s.outageSince) },
      'the lease KV answers again; still leading',
    );
    s.outageSince = undefined;
  }
  if (sentAt + cfg.ttlMs - cfg.fenceMarginMs > s.validUntil || s.validUntil === 0) t.extend(sentAt);
  t.answered();
}

/**
 * A renewal (or a step of it) failed without an answer from the lease's stream. `outage`:
 * the failure may be evidence that nobody can write the lease (outage.ts); false once the KV
 * answered with a conflict (it has a stream leader then).
 */
function renewFailed(t: Turn, f: KvFailure, sentAt: number, outage: boolean): void {
  const { s, cfg, now } = t;
  const noResponders = outage && f.kind === 'no-responders';
  if (!noResponders && f.kind !== 'conflict') s.unsureSince ??= sentAt; // a timeout may have been applied
  const evidence = outageEvidence({ outage, noResponders, sentAt, beatStoredAt: now.beatStoredAt });
  t.failed(f);
  if (!s.isLeader) return;
  const first = s.outageSince === undefined;
  s.outageSince ??= sentAt;
  const until = outageValidity({
    now: now.at,
    validUntil: s.validUntil,
    evidenceAt: evidence?.at,
    okSentAt: s.okSentAt,
    ttlMs: cfg.ttlMs,
    fenceMarginMs: cfg.fenceMarginMs,
    graceMs: cfg.kvOutageGraceMs,
    timings: cfg.timings,
  });
  if (until === null) return t.setLeader(false, 'lease not renewed in time');
  if (until <= s.validUntil) return;
  if (first || s.validUntil <= s.okSentAt + cfg.ttlMs - cfg.fenceMarginMs) {
    const fields = { term: s.term, grace_ms: cfg.kvOutageGraceMs, err: f.message };
    t.log('warn', fields, evidence?.by === 'beat-stream' ? GRACE_ON_BEAT_STREAM : GRACE_ON_NO_RESPONDERS);
  }
  t.setValidity(until);
}

/** The renewal conflicted: the answer of an earlier one was lost, the lease expired, or another node holds it. */
const renewConflictRead: On<'renew-conflict-read'> = (t, _p, a) => {
  const { s, cfg, now } = t;
  if (!a.ok) {
    renewFailed(t, a.failure, now.at, false);
    return t.endFlow();
  }
  t.answered();
  const cur = a.lease ?? null;
  if (cur?.value && cur.value.node_id === cfg.nodeId && cur.value.term === s.term) {
    if (cur.revision > s.revision) {
      // Only this node writes its record, and only its unanswered renewals since the last
      // acknowledged one can have been applied: the lease lives at least from the first of them.
      const appliedFrom = s.unsureSince ?? s.okSentAt;
      s.revision = cur.revision;
      s.record = cur.value;
      acknowledged(t, appliedFrom);
      t.log(
        'info',
        { term: s.term, revision: cur.revision },
        'a renewal answer was lost; the lease is still ours: adopted its revision',
      );
    }
    return t.endFlow();
  }
  if (!cur && s.outageSince !== undefined && cfg.kvOutageGraceMs > 0 && now.at < s.validUntil) return restore(t);
  t.setLeader(false, cur?.value ? `lease taken by ${cur.value.node_id}` : 'lease expired before it was renewed');
  if (cur) t.follow(cur.value);
  t.endFlow();
};

/**
 * The replicas expired the lease by its TTL while nobody could write it. Re-create it under
 * the same term at once: the lease key makes it this node's alone again, and nobody can count
 * a new term without holding it. Whether another term began during the outage is checked on
 * the term counter next, by compare-and-set (a linearizable write, not a replica's read), as
 * soon as the state bucket answers (its stream may be electing too); a counter that moved on
 * makes this node end the lease and step down.
 */
function restore(t: Turn): void {
  const value = currentValue(t);
  t.send({ key: 'lease', op: 'create', value }, { name: 'restore', sentAt: t.now.at, value });
}

const restored: On<'restore'> = (t, p, a) => {
  const { s } = t;
  if (!a.ok) {
    if (a.failure.kind === 'conflict') return t.send({ key: 'lease', op: 'get' }, { name: 'restore-lost-read' });
    renewFailed(t, a.failure, p.sentAt, false);
    return t.endFlow();
  }
  s.revision = a.revision!;
  s.record = p.value;
  s.termUnverified = true;
  const outageMs = Math.round(p.sentAt - (s.outageSince ?? p.sentAt));
  t.log(
    'info',
    { term: s.term, outage_ms: outageMs },
    'the lease expired during a KV outage; re-created it under the same term',
  );
  acknowledged(t, p.sentAt);
  verifyTerm(t, 'end');
};

const restoreLostRead: On<'restore-lost-read'> = (t, _p, a) => {
  if (a.ok) t.answered();
  const cur = a.ok ? (a.lease ?? null) : null;
  t.setLeader(
    false,
    cur?.value ? `lease taken by ${cur.value.node_id}` : 'lease expired during a KV outage and could not be re-created',
  );
  if (cur) t.follow(cur.value);
  t.endFlow();
};

/**
 * After a restore: the term counter must still hold this node's term, checked by a
 * compare-and-set that also records the last slot. Transient failures wait for the next renewal.
 */
function verifyTerm(t: Turn, then: AfterVerify): void {
  t.send({ key: 'term', op: 'get' }, { name: 'verify-read', then });
}

const verifyRead: On<'verify-read'> = (t, p, a) => {
  const { s, cfg } = t;
  if (!a.ok) return a.failure.kind === 'conflict' ? notOurs(t, p.then) : verifyFailed(t, a.failure, p.then);
  const tr = a.counter ?? null;
  if (!holdsTerm(tr, s.term, cfg.nodeId)) return notOurs(t, p.then);
  const update = {
    key: 'term',
    op: 'update',
    value: { ...tr.value, last_slot: s.record?.last_slot },
    expectedRevision: tr.revision,
  } as const;
  t.send(update, { name: 'verify-write', then: p.then });
};

const verifyWrite: On<'verify-write'> = (t, p, a) => {
  if (!a.ok) return a.failure.kind === 'conflict' ? notOurs(t, p.then) : verifyFailed(t, a.failure, p.then);
  t.s.termUnverified = false;
  afterVerify(t, p.then);
};

function verifyFailed(t: Turn, f: KvFailure, then: AfterVerify): void {
  t.failed(f);
  afterVerify(t, then);
}

/** Another term began during the outage: step down and end the lease (best effort). */
function notOurs(t: Turn, then: AfterVerify): void {
  t.s.termUnverified = false;
  t.setLeader(false, 'lease expired during a KV outage and another term began');
  t.send({ key: 'lease', op: 'delete', expectedRevision: t.s.revision }, { name: 'verify-delete', then });
}

const verifyDelete: On<'verify-delete'> = (t, p) => afterVerify(t, p.then);

function afterVerify(t: Turn, then: AfterVerify): void {
  if (then === 'renew') return renewWrite(t);
  t.endFlow();
}

/** The renewal's steps, by the phase an answer continues. */
export const renewalSteps = {
  renew: renewed,
  'renew-conflict-read': renewConflictRead,
  restore: restored,
  'restore-lost-read': restoreLostRead,
  'verify-read': verifyRead,
  'verify-write': verifyWrite,
  'verify-delete': verifyDelete,
};
