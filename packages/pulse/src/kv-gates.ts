/**
 * The checking gates for every value the pulse reads from KV (one per kind, used on every
 * path: get and watch). A gate returns the typed value or a refusal naming the rule; nothing
 * downstream re-checks, and a refused value never replaces the last good one (docs/spec.md §7
 * Election, terms and fencing, STYLE "one gate per trust boundary").
 */
import { checkTempoMap, CONTRACT_MAX_BPM, CONTRACT_MIN_BPM, type TempoMap } from '@backbeat/core';
import { decodeJson, decodeLeaseRecord, type LeaseRecord } from '@backbeat/transport';

/** A gate's answer: the checked value, or why it was refused. */
export type GateResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** The KV keys the pulse gates, as metric labels. */
export type GatedKey = 'leader' | 'leader-term' | 'tempo-map' | 'tempo-pending';

/** The tempo map gate: JSON, then every rule of core's checkTempoMap. */
export function gateTempoMap(bytes: Uint8Array): GateResult<TempoMap> {
  try {
    return { ok: true, value: checkTempoMap(decodeJson(bytes)) };
  } catch (err) {
    return { ok: false, reason: `tempo map: ${(err as Error).message}` };
  }
}

/** The lease gate: transport's decodeLeaseRecord (node_id, term >= 1, acquired_at). */
export function gateLease(bytes: Uint8Array): GateResult<LeaseRecord> {
  try {
    return { ok: true, value: decodeLeaseRecord(bytes) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** The pending change as stored in KV. */
export interface PendingTempo {
  readonly tempo_bpm: number;
  readonly justification: string;
  readonly requested_at: string;
  readonly requested_by: string;
  /** Set by the leader when it placed the change on the grid. */
  readonly effective_beat?: number;
  /** Start of that downbeat (RFC 3339). */
  readonly effective_at?: string;
}

/** The pending tempo change gate (BACKBEAT-REQ-004). */
export function gatePending(bytes: Uint8Array): GateResult<PendingTempo> {
  let v: unknown;
  try {
    v = decodeJson(bytes);
  } catch (err) {
    return { ok: false, reason: `pending tempo change is not JSON: ${(err as Error).message}` };
  }
  const refuse = (rule: string): GateResult<PendingTempo> => ({ ok: false, reason: `pending tempo change: ${rule}` });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return refuse('must be a JSON object');
  const p = v as Record<string, unknown>;
  if (typeof p.tempo_bpm !== 'number' || !(p.tempo_bpm >= CONTRACT_MIN_BPM && p.tempo_bpm <= CONTRACT_MAX_BPM)) {
    return refuse(`tempo_bpm must be a number from ${CONTRACT_MIN_BPM} to ${CONTRACT_MAX_BPM}`);
  }
  for (const f of ['justification', 'requested_at', 'requested_by'] as const) {
    if (typeof p[f] !== 'string') return refuse(`${f} must be a string`);
  }
  if (p.effective_beat !== undefined && !(Number.isSafeInteger(p.effective_beat) && (p.effective_beat as number) >= 0)) return refuse('effective_beat must be an integer >= 0');
  if (p.effective_at !== undefined && (typeof p.effective_at !== 'string' || Number.isNaN(Date.parse(p.effective_at)))) return refuse('effective_at must be an RFC 3339 time');
  return { ok: true, value: p as unknown as PendingTempo };
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
  return Number.isSafeInteger(s.beat_index) && (s.beat_index as number) >= 0 && Number.isSafeInteger(s.phase_index) && (s.phase_index as number) >= 0
    ? { beat_index: s.beat_index as number, phase_index: s.phase_index as number }
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
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'term record must be a JSON object' };
  const r = v as Record<string, unknown>;
  if (!Number.isSafeInteger(r.term) || (r.term as number) < 1) return { ok: false, reason: 'term record: term must be an integer >= 1' };
  if (typeof r.node_id !== 'string') return { ok: false, reason: 'term record: node_id must be a string' };
  return { ok: true, value: { term: r.term as number, node_id: r.node_id, acquired_at: String(r.acquired_at ?? ''), last_slot: gateSlot(r.last_slot), ended: typeof r.ended === 'string' ? r.ended : undefined } };
}
