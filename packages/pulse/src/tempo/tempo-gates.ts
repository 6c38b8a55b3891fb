/**
 * The gates for the tempo values the pulse reads from the state bucket (used on every path: get
 * and watch): the tempo map and the pending tempo change (BACKBEAT-REQ-003, -004).
 */
import { checkTempoMap, CONTRACT_MAX_BPM, CONTRACT_MIN_BPM, type TempoMap } from '@backbeat/core';
import { decodeJson } from '@backbeat/transport';
import type { GateResult } from '../kv-gate.js';

/** The tempo map gate: JSON, then every rule of core's checkTempoMap. */
export function gateTempoMap(bytes: Uint8Array): GateResult<TempoMap> {
  try {
    return { ok: true, value: checkTempoMap(decodeJson(bytes)) };
  } catch (err) {
    return { ok: false, reason: `tempo map: ${(err as Error).message}` };
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
  if (
    p.effective_beat !== undefined &&
    !(Number.isSafeInteger(p.effective_beat) && (p.effective_beat as number) >= 0)
  ) {
    return refuse('effective_beat must be an integer >= 0');
  }
  if (
    p.effective_at !== undefined &&
    (typeof p.effective_at !== 'string' || Number.isNaN(Date.parse(p.effective_at)))
  ) {
    return refuse('effective_at must be an RFC 3339 time');
  }
  return { ok: true, value: p as unknown as PendingTempo };
}
