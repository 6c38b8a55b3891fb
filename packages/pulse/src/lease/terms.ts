/**
 * The term counter's rules (state bucket key `leader-term`, no TTL; docs/spec.md §7 Election,
 * terms and fencing). Every write of it is a compare-and-set on the revision just read (the lease
 * machine issues them), so terms read 1, 2, 3 ... and only grow, and a lost race tells a node
 * that another one counted a term meanwhile:
 * - a node that created the lease counts its term from T to T + 1 (campaign.ts);
 * - a leader that re-created its lease after a KV outage confirms that the counter still holds
 *   its term (renewal.ts);
 * - a leader that releases the lease leaves why and its last slot there for the next one
 *   (release.ts).
 * Pure: what the next term is, who held the last one, and the values written.
 */
import type { TermRecord, WireSlot } from './lease-gates.js';
import type { PulseLeaseRecord, TermRead } from './records.js';

/** A lost race to count a term is retried this often in all before the take is given up. */
export const COUNT_ATTEMPTS = 4;

/** What the counter says about the term before a new one. */
export interface Predecessor {
  /** Who counted the last term: null when nobody ever did, 'unknown' when its value was refused. */
  readonly holder: string | null;
  /** How that term ended, when its leader released it (and it is not older than this node's term). */
  readonly ended: string | undefined;
  /** Why the lease changes hands now. */
  readonly reason: string;
}

/** The term after the highest one known: `known` (this node's) or the counter's. */
export function nextTerm(known: number, tr: TermRead): number {
  // A refused counter value: its revision bounds every term ever written, so it is safe.
  return Math.max(known, tr ? (tr.value ? tr.value.term : tr.revision) : 0) + 1;
}

/** The term before a new one, as the counter `tr` records it; `known` is this node's term. */
export function predecessor(tr: TermRead, known: number): Predecessor {
  const ended = tr?.value && tr.value.term >= known ? tr.value.ended : undefined;
  const holder = tr ? (tr.value?.node_id ?? 'unknown') : null;
  const reason = ended ? `${tr!.value!.node_id} ${ended}` : !tr && known === 0 ? 'first leader' : 'lease expired';
  return { holder, ended, reason };
}

/** The counter value that counts the term of lease `record`. */
export function countedTerm(record: PulseLeaseRecord): TermRecord {
  return { term: record.term, node_id: record.node_id, acquired_at: record.acquired_at, last_slot: record.last_slot };
}

/** True when the counter `tr` still holds `term` of `nodeId`. */
export function holdsTerm(
  tr: TermRead,
  term: number,
  nodeId: string,
): tr is NonNullable<TermRead> & { value: TermRecord } {
  return !!tr?.value && tr.value.term === term && tr.value.node_id === nodeId;
}

/** The counter value a leader leaves when it releases `term`: its last slot and why it ended. */
export function closedTerm(counter: TermRecord, lastSlot: WireSlot | undefined, ended: string): TermRecord {
  return { ...counter, last_slot: lastSlot, ended };
}
