/** What a beat callback is given (docs/spec.md §8 Degradation and grid timing). */
import type { BeatFrame } from '@backbeat/contracts';

/** Where a callback's beat came from. */
export type BeatSource = 'leader' | 'local' | 'grid';

/** How a client times its callbacks. */
export type Timing = 'grid' | 'frames';

/** What every beat callback receives besides the frame. */
export interface BeatInfo {
  readonly source: BeatSource;
  /** clock.now() when the frame arrived, or when the slot was fired from the tempo map. */
  readonly receivedAt: number;
  /** The slot's scheduled start on the grid. */
  readonly scheduledAt: number;
}

/** Why a frame was not used. */
export type DropReason =
  | 'invalid'
  | 'malformed'
  | 'other_cluster'
  | 'old_term'
  | 'bad_term'
  | 'off_grid'
  | 'stale'
  | 'backwards'
  | 'duplicate';

/** A beat callback: the frame (the leader's, or built from the tempo map) and where it came from. */
export type BeatCallback = (frame: BeatFrame, info: BeatInfo) => void;
