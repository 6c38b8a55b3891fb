/**
 * Tempo change rules (BACKBEAT-REQ-004): a new tempo only within [minBpm, maxBpm], at most
 * ±10 % of the tempo in force when the change is requested (exactly 10 % is allowed), one
 * pending change at a time, applied at the next downbeat as a new tempo-map segment that
 * starts at that downbeat's time on the old grid (so the grid stays continuous).
 */
import { nextDownbeat, positionAt, timeOf } from './beat-clock.js';
import { BackbeatError, InvalidArgumentError } from './errors.js';
import {
  checkTempoMap,
  CONTRACT_MAX_BPM,
  CONTRACT_MIN_BPM,
  segmentIndexAt,
  tempoAt,
  type TempoMap,
  type TempoSegment,
} from './tempo-map.js';

/** Largest tempo change allowed at once, as a fraction of the tempo in force (REQ-004). */
export const MAX_TEMPO_DELTA = 0.1;

/** The REQ-004 rule behind each refusal code. */
export const TEMPO_CHANGE_RULES = {
  BB_ERR_TEMPO_OUT_OF_RANGE: 'range',
  BB_ERR_TEMPO_DELTA_TOO_LARGE: 'delta',
  BB_ERR_TEMPO_CHANGE_PENDING: 'pending',
} as const;

/** Code of a refused tempo change. */
export type TempoChangeCode = keyof typeof TEMPO_CHANGE_RULES;

/** What a {@link TempoChangeError} carries, for an API response or a log line. */
export interface TempoChangeContext {
  /** The request field at fault (the admin API's body field). */
  readonly field: 'tempo_bpm';
  /** The rule broken: range, delta or pending. */
  readonly rule: (typeof TEMPO_CHANGE_RULES)[TempoChangeCode];
  /** The tempo asked for. */
  readonly requested: number;
  /** The tempo in force when asked. */
  readonly current: number;
  /** For range and delta: the tempos that would have been accepted at that moment. */
  readonly allowed?: { readonly minBpm: number; readonly maxBpm: number };
}

/** A tempo change broke a REQ-004 rule; the message is a sentence for an operator. */
export class TempoChangeError extends BackbeatError<TempoChangeContext> {
  constructor(
    code: TempoChangeCode,
    message: string,
    requested: number,
    current: number,
    allowed?: TempoChangeContext['allowed'],
  ) {
    const context = { field: 'tempo_bpm', rule: TEMPO_CHANGE_RULES[code], requested, current } as const;
    super(code, message, allowed ? { ...context, allowed } : context);
  }
}

/** A requested change, as checked by {@link validateTempoChange}. */
export interface TempoChangeRequest {
  /** The new tempo, BPM. */
  tempoBpm: number;
  /** When the change is requested (clock.now()); the tempo in force then is the reference. */
  at: number;
  /** Lowest tempo allowed (pulse `--min-bpm`, default 4). */
  minBpm: number;
  /** Highest tempo allowed (pulse `--max-bpm`, default 24). */
  maxBpm: number;
  /**
   * True when the caller knows of a change still waiting for its downbeat (e.g. one stored
   * but not yet placed on the map). A segment of `map` that starts after `at` always counts.
   * @default false
   */
  pending?: boolean;
}

/**
 * The change already placed on the map and not yet in force at `t`: the first segment after
 * the first one that starts after `t`, or undefined. (The first segment is the grid's start,
 * not a change.)
 */
export function pendingTempoChange(map: TempoMap, t: number): TempoSegment | undefined {
  return map.segments.slice(1).find((s) => s.startTime > t);
}

/**
 * Checks a tempo change against REQ-004, in this order: pending, range, delta.
 * @throws TempoChangeError with the broken rule (BB_ERR_TEMPO_CHANGE_PENDING,
 * BB_ERR_TEMPO_OUT_OF_RANGE, BB_ERR_TEMPO_DELTA_TOO_LARGE)
 * @throws InvalidArgumentError when minBpm/maxBpm are not finite with minBpm <= maxBpm
 */
export function validateTempoChange(map: TempoMap, req: TempoChangeRequest): void {
  const { tempoBpm: bpm, minBpm, maxBpm } = req;
  if (!(Number.isFinite(minBpm) && Number.isFinite(maxBpm) && minBpm <= maxBpm)) {
    throw new InvalidArgumentError(
      'minBpm',
      `minBpm and maxBpm must be finite with minBpm <= maxBpm, got ${minBpm} and ${maxBpm}`,
    );
  }
  const current = tempoAt(map, req.at);
  const placed = pendingTempoChange(map, req.at);
  if (req.pending === true || placed) {
    const when = placed ? ` (to ${placed.tempoBpm} BPM at ${new Date(placed.startTime).toISOString()})` : '';
    throw new TempoChangeError(
      'BB_ERR_TEMPO_CHANGE_PENDING',
      `a tempo change is already pending until the next downbeat${when}; only ` +
        'one may wait at a time: retry after it applies',
      bpm,
      current,
    );
  }
  const lo = Math.max(minBpm, CONTRACT_MIN_BPM);
  const hi = Math.min(maxBpm, CONTRACT_MAX_BPM);
  if (typeof bpm !== 'number' || !(bpm >= lo && bpm <= hi)) {
    throw new TempoChangeError(
      'BB_ERR_TEMPO_OUT_OF_RANGE',
      `tempo_bpm must be from ${lo} to ${hi} BPM, got ${bpm}`,
      bpm,
      current,
      { minBpm: lo, maxBpm: hi },
    );
  }
  // A relative epsilon, so that exactly 10 % (12 -> 13.2) passes despite binary fractions.
  if (Math.abs(bpm - current) > current * MAX_TEMPO_DELTA * (1 + 1e-9)) {
    const allowed = {
      minBpm: Math.max(lo, round3(current * (1 - MAX_TEMPO_DELTA))),
      maxBpm: Math.min(hi, round3(current * (1 + MAX_TEMPO_DELTA))),
    };
    throw new TempoChangeError(
      'BB_ERR_TEMPO_DELTA_TOO_LARGE',
      `tempo_bpm may change by at most 10% of the current ${current} BPM at once (${allowed.minBpm} to ` +
        `${allowed.maxBpm}), got ${bpm}; make larger changes in steps, one per bar`,
      bpm,
      current,
      allowed,
    );
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Options of {@link applyTempoChange}. */
export interface ApplyTempoChangeOptions {
  /**
   * Most segments the new map keeps; the oldest ones, all ended before the request, are
   * dropped (times before the new first segment are then extrapolated). At least 2.
   * @default 16
   */
  maxSegments?: number;
}

/** A tempo change placed on the grid. */
export interface ScheduledTempoChange {
  /** The new map, with the new segment last. */
  readonly map: TempoMap;
  /** The downbeat the new tempo starts at. */
  readonly effectiveBeat: number;
  /** Start of that downbeat, ms since the epoch: the same on the old and the new map. */
  readonly effectiveTime: number;
}

/**
 * Places a new tempo on the grid (BACKBEAT-REQ-004) without checking the rules (see
 * {@link validateTempoChange} and {@link changeTempo}). The new segment starts at the first
 * downbeat strictly after the beat in force at `at`: a request made exactly on a downbeat
 * applies at the next one, so no frame already due (or sent) changes. Before the grid
 * starts, it applies at the first downbeat of the grid. Every slot before that downbeat keeps
 * its time. Segments after `at` (a change placed but not yet in force) are replaced, so
 * applying the same change twice gives the same map.
 * @throws InvalidArgumentError on a non-finite `at`, a tempo outside 0.1..1000 or maxSegments < 2
 */
export function applyTempoChange(
  map: TempoMap,
  tempoBpm: number,
  at: number,
  options: ApplyTempoChangeOptions = {},
): ScheduledTempoChange {
  const maxSegments = options.maxSegments ?? 16;
  if (!Number.isSafeInteger(maxSegments) || maxSegments < 2) {
    throw new InvalidArgumentError('maxSegments', `must be an integer >= 2, got ${maxSegments}`);
  }
  const pos = positionAt(map, at);
  const first = map.segments[0]!.startBeat;
  const effectiveBeat = pos ? nextDownbeat(pos.beatIndex, map.barLength) : nextDownbeat(first - 1, map.barLength);
  const effectiveTime = timeOf(map, effectiveBeat, 0);
  const keep = map.segments.slice(0, segmentIndexAt(map, at) + 1).filter((s) => s.startBeat < effectiveBeat);
  const trimmed = keep.slice(Math.max(0, keep.length + 1 - maxSegments));
  const next = checkTempoMap({
    ...map,
    segments: [...trimmed, { startBeat: effectiveBeat, startTime: effectiveTime, tempoBpm }],
  });
  return { map: next, effectiveBeat, effectiveTime };
}

/**
 * Checks a change against REQ-004 and places it: {@link validateTempoChange}, then
 * {@link applyTempoChange} at `req.at`.
 * @throws TempoChangeError or InvalidArgumentError as those two
 */
export function changeTempo(
  map: TempoMap,
  req: TempoChangeRequest,
  options: ApplyTempoChangeOptions = {},
): ScheduledTempoChange {
  validateTempoChange(map, req);
  return applyTempoChange(map, req.tempoBpm, req.at, options);
}
