/**
 * The beat grid computed from a tempo map (docs/spec.md §5 The beat grid and the tempo map): when
 * any (beat, phase) slot starts, which slot holds an instant, bars and downbeats. A beat of D =
 * 60000/bpm ms has P phases; phase k spans [k·D/P, (k+1)·D/P). Every time comes from the segment's
 * absolute start: startTime + (beat − startBeat)·D + k·D/P.
 */
import { InvalidArgumentError } from './errors.js';
import type { Phase } from './phases.js';
import { beatDurationMs, segmentIndexAt, segmentIndexForBeat, type TempoMap } from './tempo-map.js';

/** A (beat, phase) pair: the key of a slot, ordered by {@link compareSlots}. */
export interface SlotKey {
  readonly beatIndex: number;
  readonly phaseIndex: number;
}

/** One (beat, phase) slot of the grid, with its times (ms since the epoch). */
export interface BeatPosition extends SlotKey {
  /** Name of the phase (INT-A `phase`). */
  readonly phase: Phase;
  /** Tempo of the beat (INT-A `tempo_bpm`). */
  readonly tempoBpm: number;
  /** Start of the beat. */
  readonly beatStart: number;
  /** Start of the phase: when its BeatFrame is due. */
  readonly phaseStart: number;
  /** End of the phase, INT-A `deadline_at`: exactly the next slot's phaseStart. */
  readonly phaseEnd: number;
  /** True for every phase of a beat whose index is a multiple of the bar length (beat 0 too). */
  readonly downbeat: boolean;
  /** Bar number, 0-based: floor(beatIndex / barLength). */
  readonly barIndex: number;
  /** Position of the beat in its bar, 0-based. */
  readonly beatInBar: number;
  /** Index of the downbeat of the beat's bar: windowId(clusterId, downbeatIndex) is its window (REQ-005). */
  readonly downbeatIndex: number;
}

/**
 * Start time of (beatIndex, phaseIndex). phaseIndex may equal the phase count, giving the end
 * of the beat (which can differ from the next beat's start by a rounding ulp: slot() uses the
 * latter for deadlines). Beats before the first segment are extrapolated at its tempo, which
 * is exact only if no earlier segment was pruned.
 * @param phaseIndex @default 0
 * @throws InvalidArgumentError on a beat that is not an integer >= 0 or a phase out of range
 */
export function timeOf(map: TempoMap, beatIndex: number, phaseIndex = 0): number {
  checkBeat(beatIndex);
  const p = map.phases.length;
  if (!Number.isInteger(phaseIndex) || phaseIndex < 0 || phaseIndex > p) {
    throw new InvalidArgumentError('phaseIndex', `must be an integer from 0 to ${p}, got ${phaseIndex}`);
  }
  return startOf(map, beatIndex, phaseIndex);
}

/** timeOf without the checks, for the hot paths inside this file. */
function startOf(map: TempoMap, beatIndex: number, phaseIndex: number): number {
  const seg = map.segments[segmentIndexForBeat(map, beatIndex)]!;
  const d = beatDurationMs(seg.tempoBpm);
  return seg.startTime + (beatIndex - seg.startBeat) * d + (phaseIndex * d) / map.phases.length;
}

function checkBeat(beatIndex: number): void {
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0) {
    throw new InvalidArgumentError('beatIndex', `must be an integer >= 0, got ${beatIndex}`);
  }
}

/**
 * The slot (beatIndex, phaseIndex) with all its times.
 * @throws InvalidArgumentError on a beat that is not an integer >= 0 or a phase out of range
 */
export function slot(map: TempoMap, beatIndex: number, phaseIndex: number): BeatPosition {
  checkBeat(beatIndex);
  const p = map.phases.length;
  if (!Number.isInteger(phaseIndex) || phaseIndex < 0 || phaseIndex >= p) {
    throw new InvalidArgumentError('phaseIndex', `must be an integer from 0 to ${p - 1}, got ${phaseIndex}`);
  }
  const seg = map.segments[segmentIndexForBeat(map, beatIndex)]!;
  const downbeatIndex = beatIndex - (beatIndex % map.barLength);
  return {
    beatIndex,
    phaseIndex,
    phase: map.phases[phaseIndex]!,
    tempoBpm: seg.tempoBpm,
    beatStart: startOf(map, beatIndex, 0),
    phaseStart: startOf(map, beatIndex, phaseIndex),
    // The deadline is the next slot's start, computed the same way, so no gap or overlap.
    phaseEnd: phaseIndex + 1 < p ? startOf(map, beatIndex, phaseIndex + 1) : startOf(map, beatIndex + 1, 0),
    downbeat: beatIndex === downbeatIndex,
    barIndex: (beatIndex - (beatIndex % map.barLength)) / map.barLength,
    beatInBar: beatIndex - downbeatIndex,
    downbeatIndex,
  };
}

/** The first beat of the map (0 unless the map started later or was pruned). */
export function firstBeat(map: TempoMap): number {
  return map.segments[0]!.startBeat;
}

/**
 * The slot that holds time `t`: phaseStart <= t < phaseEnd. Before the grid starts (t before
 * the first segment's startTime) there is none: returns null. Exact at boundaries:
 * positionAt(map, timeOf(map, b, k)) is (b, k), whatever floating point does.
 * @throws InvalidArgumentError when t is not finite
 */
export function positionAt(map: TempoMap, t: number): BeatPosition | null {
  if (!Number.isFinite(t)) throw new InvalidArgumentError('t', `must be a finite time in ms, got ${t}`);
  const seg = map.segments[segmentIndexAt(map, t)]!;
  if (t < seg.startTime) return null;
  const p = map.phases.length;
  // Estimate the slot number n within the segment, then correct it against the exact slot
  // times: floor() of a quotient may land one off just below or at a boundary.
  let n = Math.floor((t - seg.startTime) / (beatDurationMs(seg.tempoBpm) / p));
  const start = (k: number): number => startOf(map, seg.startBeat + Math.floor(k / p), k % p);
  while (n > 0 && start(n) > t) n--;
  while (start(n + 1) <= t) n++;
  return slot(map, seg.startBeat + Math.floor(n / p), n % p);
}

/** The slot after `pos` in grid order (the next phase, or phase 0 of the next beat). */
export function nextSlot(map: TempoMap, pos: SlotKey): BeatPosition {
  return pos.phaseIndex + 1 < map.phases.length
    ? slot(map, pos.beatIndex, pos.phaseIndex + 1)
    : slot(map, pos.beatIndex + 1, 0);
}

/** The first slot that starts at or after time `t` (the grid's first slot before it starts). */
export function slotAtOrAfter(map: TempoMap, t: number): BeatPosition {
  const pos = positionAt(map, t);
  if (pos === null) return slot(map, firstBeat(map), 0);
  return pos.phaseStart >= t ? pos : nextSlot(map, pos);
}

/** The first slot that starts strictly after time `t`: the next frame due after `t`. */
export function slotAfter(map: TempoMap, t: number): BeatPosition {
  const pos = positionAt(map, t);
  return pos === null ? slot(map, firstBeat(map), 0) : nextSlot(map, pos);
}

/**
 * The slots starting at or after time `t`, in grid order, without end. Times come from `map`
 * as given: after a tempo change, start again from the new map.
 *
 * ```ts
 * for (const s of slotsFrom(map, now)) { if (s.beatIndex > stop) break; ... }
 * ```
 */
export function* slotsFrom(map: TempoMap, t: number): Generator<BeatPosition, never, undefined> {
  for (let s = slotAtOrAfter(map, t); ; s = nextSlot(map, s)) yield s;
}

/** Orders two slots in grid order: a negative number, 0 or a positive number. */
export function compareSlots(a: SlotKey, b: SlotKey): number {
  return a.beatIndex !== b.beatIndex ? a.beatIndex - b.beatIndex : a.phaseIndex - b.phaseIndex;
}

/**
 * How many grid slots lie strictly between `a` and `b` (0 when `b` does not come after `a` by
 * more than one): the slots a follower skipped when it fired `a`, then `b`.
 */
export function slotsBetween(map: Pick<TempoMap, 'phases'>, a: SlotKey, b: SlotKey): number {
  const p = map.phases.length;
  return Math.max(0, (b.beatIndex - a.beatIndex) * p + (b.phaseIndex - a.phaseIndex) - 1);
}

/**
 * Index of the first downbeat strictly after `beatIndex`: the smallest multiple of
 * `barLength` greater than it (8 for beats 0 to 7 with bars of 8; 16 for beat 8).
 */
export function nextDownbeat(beatIndex: number, barLength: number): number {
  return (Math.floor(beatIndex / barLength) + 1) * barLength;
}
