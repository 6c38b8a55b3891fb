/**
 * The tempo map (SPEC section 4): the schedule every node computes the grid from. A list of
 * segments {startBeat, startTime, tempoBpm}; a beat's time is always computed from its
 * segment's absolute start, never by adding intervals, so no drift accumulates. Immutable and
 * JSON-serialisable: it lives in the cluster's KV bucket.
 */
import { InvalidArgumentError } from './errors.js';
import { isPhase, PHASES, type Phase } from './phases.js';

/** Tempo range the contracts accept (INT-A tempo_bpm). */
export const CONTRACT_MIN_BPM = 0.1;
/** @see CONTRACT_MIN_BPM */
export const CONTRACT_MAX_BPM = 1000;
/** Longest bar the contracts accept. */
export const MAX_BAR_LENGTH = 10_000;

/** One tempo in force from `startBeat` on. */
export interface TempoSegment {
  /** First beat of the segment (a downbeat, except for the first segment). */
  readonly startBeat: number;
  /** Start of that beat, ms since the epoch. */
  readonly startTime: number;
  /** Beats per minute. */
  readonly tempoBpm: number;
}

/** The whole schedule of a cluster. */
export interface TempoMap {
  /** Ordered by startBeat (and so by startTime); never empty. */
  readonly segments: readonly TempoSegment[];
  /** Beats per bar. */
  readonly barLength: number;
  /** The phases of each beat, in order. */
  readonly phases: readonly Phase[];
}

/** Options of {@link createTempoMap}. */
export interface CreateTempoMapOptions {
  /** Time of beat 0, ms since the epoch. */
  startTime: number;
  /** Tempo of the first segment. */
  tempoBpm: number;
  /** Beats per bar. @default 8 */
  barLength?: number;
  /** Phases of a beat, a non-empty ordered subset of plan, execute, review. @default all three */
  phases?: readonly string[];
  /** Index of the first beat. @default 0 */
  startBeat?: number;
}

/**
 * A tempo map with one segment.
 * @throws InvalidArgumentError when a value is out of its range
 */
export function createTempoMap(options: CreateTempoMapOptions): TempoMap {
  return checkTempoMap({
    segments: [{ startBeat: options.startBeat ?? 0, startTime: options.startTime, tempoBpm: options.tempoBpm }],
    barLength: options.barLength ?? 8,
    phases: (options.phases ?? PHASES) as Phase[],
  });
}

/** Beat duration in ms at `tempoBpm`. */
export function beatDurationMs(tempoBpm: number): number {
  return 60_000 / tempoBpm;
}

/**
 * Checks a value read from storage or the wire and returns it as a frozen TempoMap.
 * @throws InvalidArgumentError naming the first field that breaks its rule
 */
export function checkTempoMap(value: unknown): TempoMap {
  const v = value as Partial<TempoMap> | null;
  if (typeof v !== 'object' || v === null) throw new InvalidArgumentError('tempoMap', 'must be an object');
  const { barLength, phases, segments } = v;
  if (!Number.isSafeInteger(barLength) || barLength! < 1 || barLength! > MAX_BAR_LENGTH) {
    throw new InvalidArgumentError('barLength', `must be an integer from 1 to ${MAX_BAR_LENGTH}, got ${barLength}`);
  }
  checkPhases(phases);
  if (!Array.isArray(segments) || segments.length === 0) {
    throw new InvalidArgumentError('segments', 'must be a non-empty array');
  }
  segments.forEach((s, i) => {
    const at = `segments[${i}]`;
    if (!Number.isSafeInteger(s?.startBeat) || s.startBeat < 0) {
      throw new InvalidArgumentError(`${at}.startBeat`, `must be an integer >= 0, got ${s?.startBeat}`);
    }
    if (!Number.isFinite(s.startTime)) throw new InvalidArgumentError(`${at}.startTime`, 'must be a finite number');
    checkBpm(`${at}.tempoBpm`, s.tempoBpm);
    const prev = segments[i - 1];
    if (prev && (s.startBeat <= prev.startBeat || s.startTime <= prev.startTime)) {
      throw new InvalidArgumentError(at, 'must start after the segment before it');
    }
  });
  return Object.freeze({
    segments: Object.freeze(segments.map((s) => Object.freeze({ startBeat: s.startBeat, startTime: s.startTime, tempoBpm: s.tempoBpm }))),
    barLength: barLength!,
    phases: Object.freeze([...phases!]),
  });
}

function checkBpm(field: string, bpm: unknown): void {
  if (typeof bpm !== 'number' || !Number.isFinite(bpm) || bpm < CONTRACT_MIN_BPM || bpm > CONTRACT_MAX_BPM) {
    throw new InvalidArgumentError(field, `must be a number from ${CONTRACT_MIN_BPM} to ${CONTRACT_MAX_BPM}, got ${bpm}`);
  }
}

function checkPhases(phases: unknown): asserts phases is Phase[] {
  if (!Array.isArray(phases) || phases.length === 0) {
    throw new InvalidArgumentError('phases', 'must be a non-empty list of plan, execute, review');
  }
  for (const p of phases) {
    if (typeof p !== 'string' || !isPhase(p)) {
      throw new InvalidArgumentError('phases', `'${String(p)}' is not one of plan, execute, review`);
    }
  }
  const order = phases.map((p) => PHASES.indexOf(p as Phase));
  if (order.some((o, i) => i > 0 && o <= order[i - 1]!)) {
    throw new InvalidArgumentError('phases', 'must be unique and in the order plan, execute, review');
  }
}

/** Index of the segment in force for `beatIndex`. */
export function segmentIndexForBeat(map: TempoMap, beatIndex: number): number {
  let i = map.segments.length - 1;
  while (i > 0 && map.segments[i]!.startBeat > beatIndex) i--;
  return i;
}

/** Index of the segment in force at time `t` (the first one for times before the grid). */
export function segmentIndexAt(map: TempoMap, t: number): number {
  let i = map.segments.length - 1;
  while (i > 0 && map.segments[i]!.startTime > t) i--;
  return i;
}

/** The tempo in force at time `t`. */
export function tempoAt(map: TempoMap, t: number): number {
  return map.segments[segmentIndexAt(map, t)]!.tempoBpm;
}

/** Drops the segments that ended before time `t`; no time at or after `t` changes. */
export function pruneTempoMap(map: TempoMap, t: number): TempoMap {
  const first = segmentIndexAt(map, t);
  if (first === 0) return map;
  return checkTempoMap({ ...map, segments: map.segments.slice(first) });
}
