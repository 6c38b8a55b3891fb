/**
 * The frames of slots fired from the tempo map (sources `local` and `grid`; docs/spec.md §8
 * Degradation and grid timing): `buildBeatFrame`, so the leader's frame in all but the HLC.
 * One {@link SlotFrames} belongs to one frame gate, so the clients that share that gate (one
 * bus, one cluster: beat-hub.ts) share a slot's build (its window id is a sha256). What it
 * hands out is never changed: each client stamps its HLC on its own copy ({@link withHlc}).
 */
import { compareSlots, type BeatPosition, type TempoMap } from '@backbeat/core';
import { buildBeatFrame, type BeatFrame } from '@backbeat/contracts';

/** A valid HLC for a frame whose HLC is set later. */
const UNSTAMPED = '0000:0000:0000';

/** The last slot's frame of one gate. */
export class SlotFrames {
  #last: { readonly map: TempoMap; readonly pos: BeatPosition; readonly frame: Readonly<BeatFrame> } | undefined;

  constructor(private readonly clusterId: string) {}

  /** The frame of `pos` on `map` with a placeholder HLC; built once per slot. Do not change it. */
  frameOf(map: TempoMap, pos: BeatPosition): Readonly<BeatFrame> {
    const b = this.#last;
    if (b && b.map === map && compareSlots(b.pos, pos) === 0) return b.frame;
    const frame = buildBeatFrame(this.clusterId, map, pos, UNSTAMPED);
    this.#last = { map, pos, frame };
    return frame;
  }
}

/** A slot's frame with a client's HLC: a copy (field by field, faster than a spread). */
export function withHlc(b: Readonly<BeatFrame>, hlc: string): BeatFrame {
  return {
    type: b.type,
    cluster_id: b.cluster_id,
    beat_index: b.beat_index,
    downbeat: b.downbeat,
    phase: b.phase,
    hlc,
    deadline_at: b.deadline_at,
    tempo_bpm: b.tempo_bpm,
    window_id: b.window_id,
    scheduled_at: b.scheduled_at,
    bar_length: b.bar_length,
    phases: b.phases,
  };
}
