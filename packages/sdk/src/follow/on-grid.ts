/**
 * Whether a BeatFrame lies on the client's tempo map (docs/spec.md §8 Degradation and grid
 * timing): its beat, phase, tempo, downbeat, window_id and deadline_at all agree with the slot.
 */
import { slot, windowId, type BeatPosition, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';

/** deadline_at has millisecond precision: agreement within this is agreement. */
export const GRID_TOLERANCE_MS = 1;

/**
 * The frame's slot on `map` when every field agrees with it, else null. `windowIdOf` may be a
 * memo of core's `windowId` (a sha256).
 */
export function onGrid(
  map: TempoMap,
  clusterId: string,
  frame: BeatFrame,
  deadline: number,
  windowIdOf: (clusterId: string, downbeatIndex: number) => string = windowId,
): BeatPosition | null {
  const p = map.phases.indexOf(frame.phase);
  if (p < 0 || !Number.isSafeInteger(frame.beat_index) || frame.beat_index < map.segments[0]!.startBeat) return null;
  const s = slot(map, frame.beat_index, p);
  if (Math.abs(s.tempoBpm - frame.tempo_bpm) > 1e-9 || s.downbeat !== frame.downbeat) return null;
  if (!(Math.abs(s.phaseEnd - deadline) <= GRID_TOLERANCE_MS)) return null;
  if (frame.window_id !== windowIdOf(clusterId, s.downbeatIndex)) return null;
  return s;
}
