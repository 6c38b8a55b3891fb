/**
 * Tempo change rules (BACKBEAT-REQ-004): only within [minBpm, maxBpm], at most ±10 % of the
 * tempo in force, one pending change at a time, applied at the next downbeat as a new segment.
 */
import { BackbeatError } from './errors.js';
import { nextDownbeat, positionAt, timeOf } from './beat-clock.js';
import { checkTempoMap, segmentIndexAt, tempoAt, type TempoMap } from './tempo-map.js';

/** Largest tempo change allowed at once, as a fraction of the tempo in force. */
export const MAX_TEMPO_DELTA = 0.1;

/** Which tempo-change rule a request broke. */
export const TEMPO_CHANGE_RULES = {
  BB_ERR_TEMPO_OUT_OF_RANGE: 'range',
  BB_ERR_TEMPO_DELTA_TOO_LARGE: 'delta',
  BB_ERR_TEMPO_CHANGE_PENDING: 'pending',
} as const;

/** Code of a refused tempo change. */
export type TempoChangeCode = keyof typeof TEMPO_CHANGE_RULES;

/** A tempo change request broke a REQ-004 rule; the message is for an operator. */
export class TempoChangeError extends BackbeatError<{ field: 'tempo_bpm'; rule: string; requested: number; current: number }> {
  constructor(code: TempoChangeCode, message: string, requested: number, current: number) {
    super(code, message, { field: 'tempo_bpm', rule: TEMPO_CHANGE_RULES[code], requested, current });
  }
}

/** A requested change, as checked by {@link validateTempoChange}. */
export interface TempoChangeRequest {
  /** The new tempo. */
  tempoBpm: number;
  /** When the request is made (the tempo in force then is the reference). */
  at: number;
  /** Lowest tempo the pulse accepts. */
  minBpm: number;
  /** Highest tempo the pulse accepts. */
  maxBpm: number;
  /** True when another change is waiting for its downbeat. */
  pending: boolean;
}

/**
 * Checks a tempo change against REQ-004 (exactly ±10 % is allowed).
 * @throws TempoChangeError with the broken rule
 */
export function validateTempoChange(map: TempoMap, req: TempoChangeRequest): void {
  const current = tempoAt(map, req.at);
  const bpm = req.tempoBpm;
  if (req.pending) {
    throw new TempoChangeError('BB_ERR_TEMPO_CHANGE_PENDING', 'a tempo change is already pending until the next downbeat', bpm, current);
  }
  if (typeof bpm !== 'number' || !Number.isFinite(bpm) || bpm < req.minBpm || bpm > req.maxBpm) {
    throw new TempoChangeError(
      'BB_ERR_TEMPO_OUT_OF_RANGE',
      `tempo_bpm must be from ${req.minBpm} to ${req.maxBpm}, got ${bpm}`,
      bpm,
      current,
    );
  }
  // A small epsilon so that exactly 10 % (e.g. 12 -> 13.2) passes despite binary fractions.
  if (Math.abs(bpm - current) > current * MAX_TEMPO_DELTA * (1 + 1e-9)) {
    throw new TempoChangeError(
      'BB_ERR_TEMPO_DELTA_TOO_LARGE',
      `tempo_bpm may change by at most 10% of the current ${current} BPM (${round(current * 0.9)} to ${round(current * 1.1)}), got ${bpm}`,
      bpm,
      current,
    );
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** A tempo change placed on the grid. */
export interface ScheduledTempoChange {
  /** The map with the new segment. */
  readonly map: TempoMap;
  /** The downbeat the new tempo starts at. */
  readonly effectiveBeat: number;
  /** Start of that downbeat, ms since the epoch (unchanged by the change). */
  readonly effectiveTime: number;
}

/**
 * Adds a segment at the first downbeat strictly after the beat in force at `at` (a request
 * made exactly on a downbeat applies at the next one, so no frame already due changes).
 * Segments after `at` (none, when one change is pending at a time) are replaced.
 */
export function applyTempoChange(map: TempoMap, tempoBpm: number, at: number): ScheduledTempoChange {
  const pos = positionAt(map, at);
  const first = map.segments[0]!.startBeat;
  const effectiveBeat = pos ? nextDownbeat(pos.beatIndex, map.barLength) : Math.max(first, nextDownbeat(first - 1, map.barLength));
  const effectiveTime = timeOf(map, effectiveBeat, 0);
  const keep = map.segments.slice(0, segmentIndexAt(map, at) + 1).filter((s) => s.startBeat < effectiveBeat);
  const next = checkTempoMap({ ...map, segments: [...keep, { startBeat: effectiveBeat, startTime: effectiveTime, tempoBpm }] });
  return { map: next, effectiveBeat, effectiveTime };
}
