/**
 * A leader gives its lease up (docs/spec.md §7 Election, terms and fencing): on stop, or when its
 * clock check refuses it. It leaves its last slot and why the term ended in the term counter (no
 * TTL) for the next leader, then deletes the lease with the expected revision, so a follower's
 * watch sees it end and takes over at once. A failure leaves the lease to expire by its TTL.
 */
import type { KvAnswer } from './machine-io.js';
import { later, toWire } from './records.js';
import { closedTerm } from './terms.js';
import type { Phase, Turn } from './turn.js';

type On<N extends Phase['name']> = (t: Turn, p: Extract<Phase, { name: N }>, a: KvAnswer) => void;

/** Releases the lease held at the current revision, for `reason`. */
export function release(t: Turn, reason: string): void {
  const last = toWire(later(t.s.resumeAfter, t.now.lastSlot));
  t.send({ key: 'term', op: 'get' }, { name: 'release-read', reason, revision: t.s.revision, last });
}

const releaseRead: On<'release-read'> = (t, p, a) => {
  if (!a.ok) return notReleased(t, a.failure.message);
  const tr = a.counter ?? null;
  if (tr?.value && tr.value.term === t.s.term) {
    const close = {
      key: 'term',
      op: 'update',
      value: closedTerm(tr.value, p.last, p.reason),
      expectedRevision: tr.revision,
    } as const;
    return t.send(close, { name: 'release-close', reason: p.reason, revision: p.revision });
  }
  endLease(t, p.reason, p.revision);
};

/** The counter write is best effort: the term stays counted either way. */
const releaseClose: On<'release-close'> = (t, p) => endLease(t, p.reason, p.revision);

function endLease(t: Turn, reason: string, revision: number): void {
  t.send({ key: 'lease', op: 'delete', expectedRevision: revision }, { name: 'release-delete', reason });
}

const releaseDelete: On<'release-delete'> = (t, p, a) => {
  if (!a.ok) return notReleased(t, a.failure.message);
  t.s.leaderId = null;
  t.s.previous = t.cfg.nodeId;
  t.s.reason = p.reason;
  t.log('info', { term: t.s.term, reason: p.reason }, 'released the leader lease');
  t.endFlow();
};

function notReleased(t: Turn, message: string): void {
  t.log('warn', { err: message }, 'could not release the leader lease; it expires by its TTL');
  t.endFlow();
}

/** The release's steps, by the phase an answer continues. */
export const releaseSteps = {
  'release-read': releaseRead,
  'release-close': releaseClose,
  'release-delete': releaseDelete,
};
