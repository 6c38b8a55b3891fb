/**
 * The beat grid computed from a tempo map: which (beat, phase) holds an instant, when any
 * (beat, phase) starts, bars and downbeats, and the legacy {bar, beat} form (REQ-043).
 */
import { InvalidArgumentError } from './errors.js';
import type { Phase } from './phases.js';
import { beatDurationMs, segmentIndexAt, segmentIndexForBeat, type TempoMap } from './tempo-map.js';

/** One (beat, phase) slot of the grid, with its times. */
export interface BeatPosition {
  readonly beatIndex: number;
  readonly phaseIndex: number;
  readonly phase: Phase;
  /** Tempo of the beat. */
  readonly tempoBpm: number;
  /** Start of the beat, ms since the epoch. */
  readonly beatStart: number;
  /** Start of the phase: when its BeatFrame is due. */
  readonly phaseStart: number;
  /** End of the phase: the frame's deadline_at. */
  readonly phaseEnd: number;
  /** True for every phase of a beat whose index is a multiple of the bar length. */
  readonly downbeat: boolean;
  /** Bar number, 0-based: floor(beatIndex / barLength). */
  readonly barIndex: number;
  /** Position of the beat in its bar, 0-based. */
  readonly beatInBar: number;
  /** Index of the downbeat of the beat's bar. */
  readonly downbeatIndex: number;
}

/**
 * Start time of (beatIndex, phaseIndex): segment start + whole beats + phase fraction.
 * phaseIndex may equal the phase count, giving the end of the beat.
 */
export function timeOf(map: TempoMap, beatIndex: number, phaseIndex = 0): number {
  const seg = map.segments[segmentIndexForBeat(map, beatIndex)]!;
  const d = beatDurationMs(seg.tempoBpm);
  return seg.startTime + (beatIndex - seg.startBeat) * d + (phaseIndex * d) / map.phases.length;
}

/** The slot (beat, phase) with all its times. */
export function slot(map: TempoMap, beatIndex: number, phaseIndex: number): BeatPosition {
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0) {
    throw new InvalidArgumentError('beatIndex', `must be an integer >= 0, got ${beatIndex}`);
  }
  const p = map.phases.length;
  if (!Number.isInteger(phaseIndex) || phaseIndex < 0 || phaseIndex >= p) {
    throw new InvalidArgumentError('phaseIndex', `must be an integer from 0 to ${p - 1}, got ${phaseIndex}`);
  }
  const seg = map.segments[segmentIndexForBeat(map, beatIndex)]!;
  const downbeatIndex = beatIndex - (beatIndex % map.barLength);
  const phaseEnd = phaseIndex + 1 < p ? timeOf(map, beatIndex, phaseIndex + 1) : timeOf(map, beatIndex + 1, 0);
  return {
    beatIndex,
    phaseIndex,
    phase: map.phases[phaseIndex]!,
    tempoBpm: seg.tempoBpm,
    beatStart: timeOf(map, beatIndex, 0),
    phaseStart: timeOf(map, beatIndex, phaseIndex),
    phaseEnd,
    downbeat: beatIndex === downbeatIndex,
    barIndex: Math.floor(beatIndex / map.barLength),
    beatInBar: beatIndex - downbeatIndex,
    downbeatIndex,
  };
}

/** The first beat of the grid. */
export function firstBeat(map: TempoMap): number {
  return map.segments[0]!.startBeat;
}

/**
 * The slot that holds time `t`, or null before the grid starts. Exact at boundaries:
 * positionAt(map, timeOf(map, b, k)) is (b, k).
 */
export function positionAt(map: TempoMap, t: number): BeatPosition | null {
  const segIndex = segmentIndexAt(map, t);
  const seg = map.segments[segIndex]!;
  if (t < seg.startTime) return null;
  const p = map.phases.length;
  const phaseMs = beatDurationMs(seg.tempoBpm) / p;
  // Estimate, then correct against the exact slot times: floor() may land one off at a boundary.
  let n = Math.floor((t - seg.startTime) / phaseMs);
  const start = (k: number) => timeOf(map, seg.startBeat + Math.floor(k / p), k % p);
  while (n > 0 && start(n) > t) n--;
  while (start(n + 1) <= t) n++;
  return slot(map, seg.startBeat + Math.floor(n / p), n % p);
}

/** The slot after `pos` on the grid. */
export function nextSlot(map: TempoMap, pos: Pick<BeatPosition, 'beatIndex' | 'phaseIndex'>): BeatPosition {
  return pos.phaseIndex + 1 < map.phases.length
    ? slot(map, pos.beatIndex, pos.phaseIndex + 1)
    : slot(map, pos.beatIndex + 1, 0);
}

/** The first slot that starts at or after time `t`. */
export function slotAtOrAfter(map: TempoMap, t: number): BeatPosition {
  const pos = positionAt(map, t);
  if (pos === null) return slot(map, firstBeat(map), 0);
  return pos.phaseStart >= t ? pos : nextSlot(map, pos);
}

/** Compares two slots in grid order: <0, 0 or >0. */
export function compareSlots(
  a: Pick<BeatPosition, 'beatIndex' | 'phaseIndex'>,
  b: Pick<BeatPosition, 'beatIndex' | 'phaseIndex'>,
): number {
  return a.beatIndex !== b.beatIndex ? a.beatIndex - b.beatIndex : a.phaseIndex - b.phaseIndex;
}

/** Index of the first downbeat strictly after `beatIndex`. */
export function nextDownbeat(beatIndex: number, barLength: number): number {
  return (Math.floor(beatIndex / barLength) + 1) * barLength;
}

/** Legacy beat position (BACKBEAT-REQ-043), 1-based like music notation. */
export interface LegacyBeat {
  /** Bar number, from 1. */
  readonly bar: number;
  /** Beat within the bar, from 1 to the bar length. */
  readonly beat: number;
}

/** beat index -> legacy {bar, beat}, both 1-based (BACKBEAT-REQ-043). */
export function toLegacy(beatIndex: number, barLength: number): LegacyBeat {
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0) {
    throw new InvalidArgumentError('beatIndex', `must be an integer >= 0, got ${beatIndex}`);
  }
  if (!Number.isSafeInteger(barLength) || barLength < 1) {
    throw new InvalidArgumentError('barLength', `must be an integer >= 1, got ${barLength}`);
  }
  return { bar: Math.floor(beatIndex / barLength) + 1, beat: (beatIndex % barLength) + 1 };
}

/** Legacy {bar, beat} (1-based) -> beat index (BACKBEAT-REQ-043). */
export function fromLegacy(legacy: LegacyBeat, barLength: number): number {
  const { bar, beat } = legacy;
  if (!Number.isSafeInteger(bar) || bar < 1) throw new InvalidArgumentError('bar', `must be an integer >= 1, got ${bar}`);
  if (!Number.isSafeInteger(beat) || beat < 1 || beat > barLength) {
    throw new InvalidArgumentError('beat', `must be an integer from 1 to ${barLength}, got ${beat}`);
  }
  return (bar - 1) * barLength + (beat - 1);
}
