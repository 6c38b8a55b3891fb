/**
 * What the KV lease elector stores (docs/spec.md §7 Election, terms and fencing): the lease record
 * in the lease bucket (key `leader`) and the term counter in the state bucket (key `leader-term`),
 * and how the shell reads them back through the value gates (a malformed value is refused and
 * reported, never trusted). No timing, no decisions: the lease machine makes those.
 */
import { compareSlots, type SlotKey } from '@backbeat/core';
import { STATE_KEYS, type KvBucket, type LeaseRecord } from '@backbeat/transport';
import type { GatedKey } from '../kv-gate.js';
import { gateLease, gateSlot, gateTermRecord, type TermRecord, type WireSlot } from './lease-gates.js';

/** State-bucket key of the term counter. */
export const LEADER_TERM_KEY = 'leader-term';

/** The lease value the pulse writes: a LeaseRecord plus why and after what it began. */
export interface PulseLeaseRecord extends LeaseRecord {
  /** The leader before this one, when known. */
  readonly previous_node: string | null;
  /** Why the lease changed hands. */
  readonly reason: string;
  /** The last (beat, phase) this leader sent or saw, refreshed at each renewal. */
  readonly last_slot?: WireSlot;
}

/** The lease as read: null when absent; `value` null when the stored value was refused. */
export type LeaseRead = {
  readonly value: PulseLeaseRecord | null;
  readonly revision: number;
  /** The server's wall time of the write. */
  readonly created: number;
} | null;

/** The term counter as read: null when absent; `value` null when the stored value was refused. */
export type TermRead = { readonly value: TermRecord | null; readonly revision: number } | null;

/** Called with each refused value. */
export type OnRefused = ((key: GatedKey, reason: string) => void) | undefined;

/** A slot as the records store it. */
export const toWire = (s: SlotKey | undefined): WireSlot | undefined =>
  s ? { beat_index: s.beatIndex, phase_index: s.phaseIndex } : undefined;
/** A stored slot as a SlotKey. */
export const fromWire = (s: WireSlot | undefined): SlotKey | undefined =>
  s ? { beatIndex: s.beat_index, phaseIndex: s.phase_index } : undefined;
/** The later of two slots (either may be unknown). */
export const later = (a: SlotKey | undefined, b: SlotKey | undefined): SlotKey | undefined =>
  !a ? b : !b ? a : compareSlots(a, b) >= 0 ? a : b;

/** The lease as it is now: null when absent; a refused value counts as absent-but-held. */
export async function readLease(kv: KvBucket, onRefused: OnRefused): Promise<LeaseRead> {
  const e = await kv.get(STATE_KEYS.leader);
  if (!e) return null;
  const r = gateLease(e.value);
  if (!r.ok) {
    onRefused?.('leader', r.reason);
    return { value: null, revision: e.revision, created: e.created };
  }
  const v = r.value as PulseLeaseRecord;
  const value: PulseLeaseRecord = {
    ...v,
    previous_node: typeof v.previous_node === 'string' ? v.previous_node : null,
    reason: String(v.reason ?? ''),
    last_slot: gateSlot(v.last_slot),
  };
  return { value, revision: e.revision, created: e.created };
}

/** The term counter as it is now. */
export async function readTerm(state: KvBucket, onRefused: OnRefused): Promise<TermRead> {
  const e = await state.get(LEADER_TERM_KEY);
  if (!e) return null;
  const r = gateTermRecord(e.value);
  if (!r.ok) onRefused?.('leader-term', r.reason);
  return { value: r.ok ? r.value : null, revision: e.revision };
}
