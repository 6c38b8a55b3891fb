/**
 * The frame encoder: a slot's BeatFrame (and its legacy {bar, beat} message) is built as bytes
 * before the slot is due, with a hole where the HLC goes; at fire time only the HLC is spliced
 * in, so the critical path is one string concatenation and one encode (BACKBEAT-PER-002).
 */
import { compareSlots, toLegacy, type BeatPosition, type TempoMap } from '@backbeat/core';
import { buildBeatFrame } from '@backbeat/contracts';

const enc = new TextEncoder();
/** Stands in for the HLC while the frame is prepared; survives JSON.stringify unchanged. */
const HLC_MARKER = '__BACKBEAT_HLC__';

/** The legacy control message of a beat (BACKBEAT-REQ-043): {bar, beat}, both 1-based. */
export function buildLegacyControl(pos: BeatPosition, barLength: number): { bar: number; beat: number } {
  return toLegacy(pos.beatIndex, barLength);
}

/** A slot's messages, built before its time (the HLC goes between `before` and `after`). */
export interface PreparedSlot {
  readonly pos: BeatPosition;
  /** The tempo map the slot was built from: a newer map means the slot must be built again. */
  readonly map: TempoMap;
  readonly before: string;
  readonly after: string;
  /** The legacy control message, on the first phase of each beat (BACKBEAT-REQ-043). */
  readonly legacy: Uint8Array | undefined;
}

/** Builds slots ahead of time and splices the HLC into them when they fire. */
export class FrameEncoder {
  #prepared: PreparedSlot | undefined;

  constructor(private readonly clusterId: string) {}

  /** Builds a slot's messages ahead of time and keeps them for {@link take}. */
  prepare(map: TempoMap, pos: BeatPosition): PreparedSlot {
    this.#prepared = this.#build(map, pos);
    return this.#prepared;
  }

  /** Forgets the prepared slot (e.g. this node stopped leading). */
  clear(): void {
    this.#prepared = undefined;
  }

  /**
   * The prepared messages of `pos`: those built by {@link prepare} when they are for the same
   * slot key on the same tempo map, else built now.
   */
  take(map: TempoMap, pos: BeatPosition): PreparedSlot {
    const p = this.#prepared;
    this.#prepared = undefined;
    return p && p.map === map && compareSlots(p.pos, pos) === 0 ? p : this.#build(map, pos);
  }

  /** The frame's bytes with `hlc` spliced in. */
  encode(p: PreparedSlot, hlc: string): Uint8Array {
    return enc.encode(p.before + hlc + p.after);
  }

  #build(map: TempoMap, pos: BeatPosition): PreparedSlot {
    const json = JSON.stringify(buildBeatFrame(this.clusterId, map, pos, HLC_MARKER));
    const at = json.indexOf(HLC_MARKER);
    const legacy =
      pos.phaseIndex === 0 ? enc.encode(JSON.stringify(buildLegacyControl(pos, map.barLength))) : undefined;
    return { pos, map, before: json.slice(0, at), after: json.slice(at + HLC_MARKER.length), legacy };
  }
}
