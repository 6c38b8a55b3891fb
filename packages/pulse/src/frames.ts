/** Building the messages the pulse publishes (BACKBEAT-REQ-002, REQ-043). */
import { toLegacy, windowId, type BeatPosition, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';

/** NATS header carrying the leadership term of a frame (SPEC 6; case-sensitive). */
export const TERM_HEADER = 'Backbeat-Term';

/** The INT-A BeatFrame for a slot. */
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

/** The legacy control message of a beat (BACKBEAT-REQ-043): {bar, beat}, both 1-based. */
export function buildLegacyControl(pos: BeatPosition, barLength: number): { bar: number; beat: number } {
  return toLegacy(pos.beatIndex, barLength);
}
