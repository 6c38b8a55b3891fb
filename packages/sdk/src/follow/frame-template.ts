/**
 * The bytes the leader sends for the next slot, known in advance (receipt to callback in
 * a fraction of a millisecond; docs/decisions/0004-sdk-beat-delivery.md). The pulse publishes
 * `JSON.stringify(buildBeatFrame(cluster, map, pos, hlc))` (its frame encoder splices the HLC
 * into a prepared text); a {@link FrameTemplate} holds the same text for the slot after the
 * last accepted one, with a hole where the HLC goes. A frame whose bytes are that text with a
 * well-formed HLC in the hole is, field for field, the frame a full parse would give, and that
 * frame passed the schema and the grid check when the template was built: the gate skips
 * JSON.parse, the schema validation and the grid arithmetic for it, and still runs every
 * per-frame check (term, lease, deadline, lead). Any other byte sends the frame down the full
 * path, so a template can only ever speed up a verdict, never change it.
 */
import { HLC_PLACEHOLDER, hlcHole, hlcInHole, type BeatPosition, type HlcHole, type TempoMap } from '@backbeat/core';
import { buildBeatFrame, validateBeatFrame, type BeatFrame } from '@backbeat/contracts';

/** A valid HLC for the check of the template frame. */
const SAMPLE_HLC = '0000:0000:0000';

const decoder = new TextDecoder('utf-8');

/** One slot's expected frame text. */
export interface FrameTemplate {
  readonly pos: BeatPosition;
  /** deadline_at as a number (ms). */
  readonly deadline: number;
  /** The frame's text cut where the HLC goes (core's hlcHole, as the pulse's frame encoder cuts it). */
  readonly hole: HlcHole;
  /** The frame with a placeholder HLC; matches get a copy with theirs. */
  readonly frame: BeatFrame;
}

/**
 * A memo of {@link buildFrameTemplate}, a pure function of (cluster, map content, slot), for every
 * gate of the process: one build per slot, also with a connection (so a gate) per client. What
 * it holds is never changed (read-only types; a match copies the frame). Bounded.
 */
const cache = new Map<string, FrameTemplate | null>();
const CACHE_SIZE = 16;
const mapKeys = new WeakMap<TempoMap, string>();

/**
 * The template of `pos` on `map` (built once per process for maps of the same content), or
 * null when the frame built for it would not pass the schema or `onGrid` (then every frame
 * of that slot takes the full path). `onGrid` must depend only on the map's content.
 */
export function frameTemplate(
  clusterId: string,
  map: TempoMap,
  pos: BeatPosition,
  onGrid: (frame: BeatFrame, deadline: number) => BeatPosition | null,
): FrameTemplate | null {
  let mk = mapKeys.get(map);
  if (mk === undefined) mapKeys.set(map, (mk = JSON.stringify(map)));
  const key = `${clusterId}|${pos.beatIndex}|${pos.phaseIndex}|${mk}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const t = buildFrameTemplate(clusterId, map, pos, onGrid);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, t);
  return t;
}

/** {@link frameTemplate} without the cache. */
export function buildFrameTemplate(
  clusterId: string,
  map: TempoMap,
  pos: BeatPosition,
  onGrid: (frame: BeatFrame, deadline: number) => BeatPosition | null,
): FrameTemplate | null {
  const frame = buildBeatFrame(clusterId, map, pos, SAMPLE_HLC);
  const deadline = Date.parse(frame.deadline_at);
  if (!validateBeatFrame(frame).valid) return null;
  const on = onGrid(frame, deadline);
  if (!on || on.beatIndex !== pos.beatIndex || on.phaseIndex !== pos.phaseIndex) return null;
  const hole = hlcHole(JSON.stringify({ ...frame, hlc: HLC_PLACEHOLDER }));
  if (!hole) return null;
  return { pos: on, deadline, hole, frame };
}

/** The frame `data` encodes when it is `t`'s text with a well-formed HLC, else null. */
export function matchFrameTemplate(t: FrameTemplate, data: Uint8Array): BeatFrame | null {
  const around = t.hole.before.length + t.hole.after.length;
  if (data.length < around + 14 || data.length > around + 50) return null;
  const hlc = hlcInHole(t.hole, decoder.decode(data));
  if (hlc === null) return null;
  // What JSON.parse would give: a fresh object (and array) per frame.
  const frame: BeatFrame = { ...t.frame, hlc };
  if (frame.phases) frame.phases = [...frame.phases];
  return frame;
}
