/**
 * A tempo map learned from frames, when the client cannot read the cluster's map from KV (the
 * SDK README, "What the client trusts"): the first accepted frame teaches the grid, and
 * afterwards only a tempo change at a beat that starts where the learned grid says is followed,
 * never a jump. Pure functions of the frame and the map (docs/spec.md §5 The beat grid and the
 * tempo map).
 */
import { DEFAULT_BAR_LENGTH, PHASES, slot, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';

/** The grid `frame` teaches, keeping the segments of `prev` that start before it. */
export function mapFromFrame(prev: TempoMap | null, frame: BeatFrame, deadline: number): TempoMap {
  const phases = (frame.phases ?? [...PHASES]) as TempoMap['phases'];
  const p = Math.max(0, phases.indexOf(frame.phase));
  const beatMs = 60_000 / frame.tempo_bpm;
  const startTime = frame.scheduled_at
    ? Date.parse(frame.scheduled_at) - (p * beatMs) / phases.length
    : deadline - ((p + 1) * beatMs) / phases.length;
  const keep = (prev?.segments ?? []).filter((s) => s.startBeat < frame.beat_index && s.startTime < startTime);
  return {
    segments: [...keep, { startBeat: frame.beat_index, startTime, tempoBpm: frame.tempo_bpm }],
    barLength: frame.bar_length ?? prev?.barLength ?? DEFAULT_BAR_LENGTH,
    phases,
  };
}

/**
 * True when a learned `map` may follow `frame` to another tempo: the frame's beat starts where
 * the map says (within `toleranceMs`). A frame anywhere else is off the grid.
 */
export function startsOnLearnedGrid(map: TempoMap, frame: BeatFrame, toleranceMs: number): boolean {
  const p = map.phases.indexOf(frame.phase);
  if (p < 0 || !frame.scheduled_at) return false;
  const beatMs = 60_000 / frame.tempo_bpm;
  const beatStart = Date.parse(frame.scheduled_at) - (p * beatMs) / map.phases.length;
  return Math.abs(slot(map, frame.beat_index, 0).beatStart - beatStart) <= toleranceMs;
}
