/**
 * Grid work done once per slot for every client of one frame gate (one bus, one cluster:
 * beat-hub.ts), instead of once per client: the slot after a slot (core's `nextSlot`) and the
 * frame of a slot fired from the tempo map (sources `local` and `grid`, docs/spec.md §8
 * Degradation and grid timing: `buildBeatFrame`, the leader's frame in all but the HLC; its
 * window id is a sha256). Memos of pure functions of their arguments, so a client gets the
 * answer it would compute itself; what they hand out is read-only (the BeatInfo frozen, as it
 * goes to callbacks), and each client stamps its HLC on its own copy of a frame ({@link withHlc}).
 */
import { compareSlots, nextSlot, type BeatPosition, type SlotKey, type TempoMap } from '@backbeat/core';
import { buildBeatFrame, type BeatFrame } from '@backbeat/contracts';
import type { BeatInfo, BeatSource } from './beat-types.js';

/** A valid HLC for a frame whose HLC is set later. */
const UNSTAMPED = '0000:0000:0000';

/** The last answers of one gate's grid work. */
export class GridMemo {
  #last: { readonly map: TempoMap; readonly pos: BeatPosition; readonly frame: Readonly<BeatFrame> } | undefined;
  #next: { readonly map: TempoMap; readonly from: SlotKey; readonly next: BeatPosition } | undefined;
  #info: BeatInfo | undefined;

  constructor(private readonly clusterId: string) {}

  /** core's nextSlot(map, from), computed once for every client that asks about the same slot. */
  readonly nextSlot = (map: TempoMap, from: SlotKey): BeatPosition => {
    const n = this.#next;
    if (n && n.map === map && compareSlots(n.from, from) === 0) return n.next;
    const next = nextSlot(map, from);
    this.#next = { map, from: { beatIndex: from.beatIndex, phaseIndex: from.phaseIndex }, next };
    return next;
  };

  /** The frozen BeatInfo of a slot fired at `receivedAt`: one object for every client of one wake-up or frame. */
  info(source: BeatSource, receivedAt: number, scheduledAt: number): BeatInfo {
    const i = this.#info;
    if (i && i.receivedAt === receivedAt && i.scheduledAt === scheduledAt && i.source === source) return i;
    return (this.#info = Object.freeze({ source, receivedAt, scheduledAt }));
  }

  /** The frame of `pos` on `map` with a placeholder HLC; built once per slot. Do not change it. */
  frameOf(map: TempoMap, pos: BeatPosition): Readonly<BeatFrame> {
    const b = this.#last;
    if (b && b.map === map && compareSlots(b.pos, pos) === 0) return b.frame;
    const frame = Object.freeze(buildBeatFrame(this.clusterId, map, pos, UNSTAMPED));
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
