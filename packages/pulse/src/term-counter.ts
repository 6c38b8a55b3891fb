/**
 * The term counter (state bucket key `leader-term`, no TTL) as the lease elector writes it
 * (docs/spec.md §7 Election, terms and fencing). Every write is a compare-and-set on the revision
 * just read, so terms read 1, 2, 3 ... and only grow, and a lost race tells a node that another one
 * counted a term meanwhile:
 * - a node that created the lease counts its term from T to T + 1 ({@link TermCounter.count});
 * - a leader that re-created its lease after a KV outage confirms that the counter still holds
 *   its term ({@link TermCounter.confirm});
 * - a leader that releases the lease leaves why and its last slot there for the next one
 *   ({@link TermCounter.close}).
 * No timing, no leadership state: kv-lease.ts decides when.
 */
import { encodeJson, KvConflictError, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import type { TermRecord, WireSlot } from './kv-gates.js';
import { LEADER_TERM_KEY, readTerm, type OnRefused, type PulseLeaseRecord, type TermRead } from './lease-records.js';

/** A lease as written: its value and the revision of that write. */
export interface WrittenLease {
  readonly record: PulseLeaseRecord;
  readonly revision: number;
}

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

/** The term counter in a state bucket; refused values are reported to `onRefused`. */
export class TermCounter {
  constructor(
    private readonly state: KvBucket,
    private readonly onRefused: OnRefused,
  ) {}

  /** The counter as it is now (see {@link readTerm}). */
  read(): Promise<TermRead> {
    return readTerm(this.state, this.onRefused);
  }

  /**
   * Counts the term of a lease this node just created in `lease`, from the counter `tr` read
   * before. A lost race means another node counted a term meanwhile: take the next one (the
   * lease is rewritten under it) and count again, up to four times in all. Any other failure,
   * or the last lost race, ends the lease (best effort) and throws. Returns the lease as
   * counted. `known` is this node's term.
   */
  async count(lease: KvBucket, known: number, tr: TermRead, written: WrittenLease): Promise<WrittenLease> {
    let { record, revision } = written;
    for (let attempt = 0; ; attempt++) {
      const counter: TermRecord = { term: record.term, node_id: record.node_id, acquired_at: record.acquired_at, last_slot: record.last_slot };
      try {
        if (tr) await this.state.update(LEADER_TERM_KEY, encodeJson(counter), tr.revision);
        else await this.state.create(LEADER_TERM_KEY, encodeJson(counter));
        return { record, revision };
      } catch (err) {
        if (!(err instanceof KvConflictError) || attempt >= 3) {
          await lease.delete(STATE_KEYS.leader, { expectedRevision: revision }).catch(() => {});
          throw err;
        }
        tr = await this.read();
        record = { ...record, term: nextTerm(known, tr) };
        revision = await lease.update(STATE_KEYS.leader, encodeJson(record), revision);
      }
    }
  }

  /**
   * Whether the counter still holds `term` of `nodeId`, checked by compare-and-set (a
   * linearizable write, not a replica's read) that also records `lastSlot`. False when it holds
   * another term or moved on meanwhile (a conflict); other failures throw.
   */
  async confirm(term: number, nodeId: string, lastSlot: WireSlot | undefined): Promise<boolean> {
    try {
      const tr = await this.read();
      if (!(tr?.value && tr.value.term === term && tr.value.node_id === nodeId)) return false;
      await this.state.update(LEADER_TERM_KEY, encodeJson({ ...tr.value, last_slot: lastSlot }), tr.revision);
      return true;
    } catch (err) {
      if (err instanceof KvConflictError) return false;
      throw err;
    }
  }

  /**
   * Leaves `lastSlot` and why `term` ended in the counter while it still holds that term, for
   * the next leader. A failed read throws; a failed write is ignored (the term stays counted).
   */
  async close(term: number, lastSlot: WireSlot | undefined, ended: string): Promise<void> {
    const tr = await this.read();
    if (tr?.value && tr.value.term === term) await this.state.update(LEADER_TERM_KEY, encodeJson({ ...tr.value, last_slot: lastSlot, ended }), tr.revision).catch(() => {});
  }
}
