/** The legacy message the pulse publishes beside each beat's first frame (BACKBEAT-REQ-043). */
import { toLegacy, type BeatPosition } from '@backbeat/core';

/** The legacy control message of a beat (BACKBEAT-REQ-043): {bar, beat}, both 1-based. */
export function buildLegacyControl(pos: BeatPosition, barLength: number): { bar: number; beat: number } {
  return toLegacy(pos.beatIndex, barLength);
}
