/**
 * The gates for the lease values the pulse reads from KV (used on every path: get and watch):
 * the lease record, the term counter and the slots they carry (docs/spec.md §7 Election, terms
 * and fencing; what a gate returns: kv-gate.ts).
 */
import { decodeJson, decodeLeaseRecord, type LeaseRecord } from '@backbeat/transport';
import type { GateResult } from '../kv-gate.js';

/** The lease gate: transport's decodeLeaseRecord (node_id, term >= 1, acquired_at). */
export function gateLease(bytes: Uint8Array): GateResult<LeaseRecord> {
  try {
    return { ok: true, value: decodeLeaseRecord(bytes) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** The term counter kept in the state bucket (no TTL): one write per leadership. */
export interface TermRecord {
  /** The last term handed out: the next leadership is term + 1. */
  readonly term: number;
  readonly node_id: string;
  readonly acquired_at: string;
  /** The last (beat, phase) a leader recorded when it took or released the lease. */
  readonly last_slot?: WireSlot;
  /** Set when that leader released the lease: why (e.g. 'released', a clock refusal). */
  readonly ended?: string;
}

/** A (beat, phase) as written in KV records. */
export interface WireSlot {
  readonly beat_index: number;
  readonly phase_index: number;
}

/** A `last_slot` field, checked; undefined when absent or malformed (it is advisory). */
export function gateSlot(v: unknown): WireSlot | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const index = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  return index(s.beat_index) && index(s.phase_index)
    ? { beat_index: s.beat_index, phase_index: s.phase_index }
    : undefined;
}

/** The term counter gate: an object with an integer term >= 1 and a node_id. */
export function gateTermRecord(bytes: Uint8Array): GateResult<TermRecord> {
  let v: unknown;
  try {
    v = decodeJson(bytes);
  } catch (err) {
    return { ok: false, reason: `term record is not JSON: ${(err as Error).message}` };
  }
  const refuse = (reason: string): GateResult<TermRecord> => ({ ok: false, reason });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return refuse('term record must be a JSON object');
  const r = v as Record<string, unknown>;
  if (!Number.isSafeInteger(r.term) || (r.term as number) < 1)
    return refuse('term record: term must be an integer >= 1');
  if (typeof r.node_id !== 'string') return refuse('term record: node_id must be a string');
  const value: TermRecord = {
    term: r.term as number,
    node_id: r.node_id,
    acquired_at: String(r.acquired_at ?? ''),
    last_slot: gateSlot(r.last_slot),
    ended: typeof r.ended === 'string' ? r.ended : undefined,
  };
  return { ok: true, value };
}
