/**
 * The tempo map (docs/spec.md §5 The beat grid and the tempo map): the schedule every node computes
 * the grid from. An ordered list of segments {startBeat, startTime, tempoBpm}; a beat's time is
 * always computed from its segment's absolute start, never by adding intervals, so no drift accumulates.
 * Immutable (frozen) and JSON-serialisable: it lives in the cluster's KV bucket and is read
 * by every pulse node and SDK client, so whatever is read back goes through checkTempoMap.
 */
import { InvalidArgumentError } from './errors.js';
import { isPhase, PHASES, type Phase } from './phases.js';
import { DEFAULT_BAR_LENGTH } from './defaults.js';

/** Lowest tempo the contracts accept (INT-A tempo_bpm). */
export const CONTRACT_MIN_BPM = 0.1;
/** Highest tempo the contracts accept (INT-A tempo_bpm). */
export const CONTRACT_MAX_BPM = 1000;
/** Longest bar accepted, in beats. */
export const MAX_BAR_LENGTH = 10_000;

/** One tempo in force from `startBeat` on, until the next segment's startBeat. */
export interface TempoSegment {
  /** First beat of the segment: an integer >= 0 (a downbeat, except for the first segment). */
  readonly startBeat: number;
  /** Start of that beat, ms since the epoch (fractional ms allowed). */
  readonly startTime: number;
  /** Beats per minute, from 0.1 to 1000. */
  readonly tempoBpm: number;
}

/** The whole schedule of a cluster. Build it with {@link createTempoMap}. */
export interface TempoMap {
  /** Ordered by startBeat and by startTime; never empty. */
  readonly segments: readonly TempoSegment[];
  /** Beats per bar, from 1 to 10000. */
  readonly barLength: number;
  /** The phases of each beat: a non-empty subset of plan, execute, review, in that order. */
  readonly phases: readonly Phase[];
}

/** Options of {@link createTempoMap}. */
export interface CreateTempoMapOptions {
  /** Start of the first beat, ms since the epoch. */
  startTime: number;
  /** Tempo of the first segment, from 0.1 to 1000 BPM (the contract range). */
  tempoBpm: number;
  /** Beats per bar (pulse `--bar`). @default 8 */
  barLength?: number;
  /** Phases of a beat, a non-empty ordered subset of plan, execute, review. @default all three */
  phases?: readonly string[];
  /** Index of the first beat. @default 0 */
  startBeat?: number;
}

/**
 * A tempo map with one segment.
 * @throws InvalidArgumentError naming the option that breaks its rule
 */
export function createTempoMap(options: CreateTempoMapOptions): TempoMap {
  return checkTempoMap({
    segments: [{ startBeat: options.startBeat ?? 0, startTime: options.startTime, tempoBpm: options.tempoBpm }],
    barLength: options.barLength ?? DEFAULT_BAR_LENGTH,
    phases: options.phases ?? PHASES,
  });
}

/** Duration of one beat at `tempoBpm`, in ms: 60000 / bpm. */
export function beatDurationMs(tempoBpm: number): number {
  return 60_000 / tempoBpm;
}

/**
 * Checks a value read from storage or the wire and returns it as a frozen TempoMap. Unknown
 * fields are dropped (a newer writer may add some).
 * @throws InvalidArgumentError naming the first field that breaks its rule, e.g.
 * `segments[1].startTime`
 */
export function checkTempoMap(value: unknown): TempoMap {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError('tempoMap', 'must be an object');
  const { barLength, phases, segments } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(barLength) || (barLength as number) < 1 || (barLength as number) > MAX_BAR_LENGTH) {
    throw new InvalidArgumentError(
      'barLength',
      `must be an integer from 1 to ${MAX_BAR_LENGTH}, got ${String(barLength)}`,
    );
  }
  checkPhases(phases);
  if (!Array.isArray(segments) || segments.length === 0) {
    throw new InvalidArgumentError('segments', 'must be a non-empty array');
  }
  const checked: TempoSegment[] = [];
  segments.forEach((raw: unknown, i) => {
    const at = `segments[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(at, 'must be an object');
    const { startBeat, startTime, tempoBpm } = raw as Record<string, unknown>;
    if (!Number.isSafeInteger(startBeat) || (startBeat as number) < 0) {
      throw new InvalidArgumentError(`${at}.startBeat`, `must be an integer >= 0, got ${String(startBeat)}`);
    }
    if (typeof startTime !== 'number' || !Number.isFinite(startTime)) {
      throw new InvalidArgumentError(`${at}.startTime`, `must be a finite number of ms, got ${String(startTime)}`);
    }
    checkBpm(`${at}.tempoBpm`, tempoBpm);
    const seg = Object.freeze({ startBeat: startBeat as number, startTime, tempoBpm: tempoBpm as number });
    const prev = checked[i - 1];
    if (prev && seg.startBeat <= prev.startBeat) {
      throw new InvalidArgumentError(
        `${at}.startBeat`,
        `must be after the previous segment's ${prev.startBeat}, got ${seg.startBeat}`,
      );
    }
    // Slot times must keep growing across the boundary: the segment may not start before the
    // last phase of the beat before it has started on the previous segment's grid.
    if (prev && !(seg.startTime > startOfLastPhase(prev, seg.startBeat - 1, phases.length))) {
      throw new InvalidArgumentError(
        `${at}.startTime`,
        'must be after the start of the last phase of the beat before it (the grid must not run backwards)',
      );
    }
    checked.push(seg);
  });
  return Object.freeze({
    segments: Object.freeze(checked),
    barLength: barLength as number,
    phases: Object.freeze([...phases]),
  });
}

/** The map as JSON text, for the KV bucket. */
export function tempoMapToJson(map: TempoMap): string {
  return JSON.stringify({ segments: map.segments, barLength: map.barLength, phases: map.phases });
}

/**
 * Parses and checks a map written by {@link tempoMapToJson} (or any JSON of that shape).
 * @throws InvalidArgumentError (field `tempoMap`) on malformed JSON, or as {@link checkTempoMap}
 */
export function tempoMapFromJson(text: string): TempoMap {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError('tempoMap', `is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return checkTempoMap(value);
}

function startOfLastPhase(seg: TempoSegment, beatIndex: number, phaseCount: number): number {
  const d = beatDurationMs(seg.tempoBpm);
  return seg.startTime + (beatIndex - seg.startBeat) * d + ((phaseCount - 1) * d) / phaseCount;
}

function checkBpm(field: string, bpm: unknown): void {
  if (typeof bpm !== 'number' || !(bpm >= CONTRACT_MIN_BPM && bpm <= CONTRACT_MAX_BPM)) {
    throw new InvalidArgumentError(
      field,
      `must be a number from ${CONTRACT_MIN_BPM} to ${CONTRACT_MAX_BPM}, got ${String(bpm)}`,
    );
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

/** Index of the segment in force for `beatIndex` (the first one for beats before it). */
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

/** The tempo in force at time `t` (the first segment's before the grid starts). */
export function tempoAt(map: TempoMap, t: number): number {
  return map.segments[segmentIndexAt(map, t)]!.tempoBpm;
}

/**
 * Drops the segments that ended at or before time `t`, so the map stays small; no time at
 * or after `t` changes. Beats before the new first segment are then extrapolated at its
 * tempo (see timeOf), so pick `t` safely in the past (the pulse keeps a minute).
 */
export function pruneTempoMap(map: TempoMap, t: number): TempoMap {
  const first = segmentIndexAt(map, t);
  if (first === 0) return map;
  return checkTempoMap({ ...map, segments: map.segments.slice(first) });
}
