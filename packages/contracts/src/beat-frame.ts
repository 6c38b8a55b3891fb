/**
 * The one place a BeatFrame (INT-A) is built from a grid slot, and the one codec of the
 * `Backbeat-Term` header (docs/spec.md §7 Election, terms and fencing). The pulse publishes what
 * {@link buildBeatFrame} returns; SDK clients build their local and grid frames with the same
 * function, so the two can only differ in the HLC.
 */
import { windowId, type BeatPosition, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from './generated/types.js';

/**
 * NATS header carrying the leadership term of a frame (docs/spec.md §7 Election, terms and fencing;
 * case-sensitive).
 */
export const TERM_HEADER = 'Backbeat-Term';

/** Largest term the header codec accepts: terms count leaderships, far below this. */
const MAX_TERM = Number.MAX_SAFE_INTEGER;

/** The INT-A BeatFrame for a slot of `map`, stamped with `hlc`. */
export function buildBeatFrame(clusterId: string, map: TempoMap, pos: BeatPosition, hlc: string): BeatFrame {
  return {
    type: 'backbeat.beatframe.v1',
    cluster_id: clusterId,
    beat_index: pos.beatIndex,
    downbeat: pos.downbeat,
    phase: pos.phase,
    hlc,
    deadline_at: new Date(pos.phaseEnd).toISOString(),
    tempo_bpm: pos.tempoBpm,
    window_id: windowId(clusterId, pos.downbeatIndex),
    scheduled_at: new Date(pos.phaseStart).toISOString(),
    bar_length: map.barLength,
    phases: [map.phases[0]!, ...map.phases.slice(1)], // never empty (checkTempoMap)
  };
}

/** The header value of a term. @throws RangeError for a term that is not a positive safe integer */
export function encodeTermHeader(term: number): string {
  if (!Number.isSafeInteger(term) || term < 1) throw new RangeError(`term must be a whole number >= 1, got ${term}`);
  return String(term);
}

/**
 * The term of a `Backbeat-Term` header value, or null when it is missing or not a plain
 * decimal integer >= 1 (no sign, exponent, spaces or leading zeros). A null term never
 * passes a term check: no header value can turn the check off.
 */
export function parseTermHeader(value: string | undefined): number | null {
  if (value === undefined || !/^[1-9][0-9]{0,15}$/.test(value)) return null;
  const n = Number(value);
  return n <= MAX_TERM ? n : null;
}
