/**
 * Tempo changes across the cluster (BACKBEAT-REQ-004). Any node accepts a request and keeps
 * it in KV as the one pending change (create-if-absent: a second request conflicts); the
 * leader places it at the next downbeat as a new tempo-map segment, then clears it once the
 * downbeat has passed.
 */
import { applyTempoChange, pruneTempoMap, TempoChangeError, validateTempoChange, type Clock, type TempoMap } from '@backbeat/core';
import { decodeJson, encodeJson, KvConflictError, readTempoMap, STATE_KEYS, type KvBucket } from '@backbeat/transport';

/** The pending change as stored in KV. */
export interface PendingTempo {
  readonly tempo_bpm: number;
  readonly justification: string;
  readonly requested_at: string;
  readonly requested_by: string;
  /** Set by the leader when it placed the change on the grid. */
  readonly effective_beat?: number;
  /** Start of that downbeat (RFC 3339). */
  readonly effective_at?: string;
}

/** A tempo change request (the POST /tempo body). */
export interface TempoRequest {
  readonly tempo_bpm: number;
  readonly justification?: string;
}

/** Reads the pending change and its revision. */
export async function readPending(state: KvBucket): Promise<{ value: PendingTempo; revision: number } | null> {
  const e = await state.get(STATE_KEYS.tempoPending);
  return e ? { value: decodeJson<PendingTempo>(e.value), revision: e.revision } : null;
}

/**
 * Checks a request against REQ-004 and stores it as the pending change.
 * @throws TempoChangeError with the broken rule
 */
export async function submitTempoChange(
  state: KvBucket,
  req: TempoRequest,
  ctx: { clock: Clock; nodeId: string; minBpm: number; maxBpm: number },
): Promise<PendingTempo> {
  const current = await readTempoMap(state);
  if (!current) throw new TempoChangeError('BB_ERR_TEMPO_CHANGE_PENDING', 'no tempo map yet: wait until a leader has started the grid', req.tempo_bpm, 0);
  const now = ctx.clock.now();
  const pending = await readPending(state);
  validateTempoChange(current.map, { tempoBpm: req.tempo_bpm, at: now, minBpm: ctx.minBpm, maxBpm: ctx.maxBpm, pending: pending !== null });
  const preview = applyTempoChange(current.map, req.tempo_bpm, now);
  const value: PendingTempo = {
    tempo_bpm: req.tempo_bpm,
    justification: req.justification ?? '',
    requested_at: new Date(ctx.clock.wallNow()).toISOString(),
    requested_by: ctx.nodeId,
    effective_beat: undefined,
    effective_at: new Date(preview.effectiveTime).toISOString(),
  };
  try {
    await state.create(STATE_KEYS.tempoPending, encodeJson({ ...value, effective_at: undefined }));
  } catch (err) {
    if (err instanceof KvConflictError) {
      throw new TempoChangeError('BB_ERR_TEMPO_CHANGE_PENDING', 'a tempo change is already pending until the next downbeat', req.tempo_bpm, current.map.segments.at(-1)!.tempoBpm);
    }
    throw err;
  }
  return value;
}

/**
 * Leader side: places a pending change on the grid, or clears one whose downbeat has passed.
 * Returns the new map when it changed it.
 */
export async function applyPendingTempo(state: KvBucket, clock: Clock): Promise<TempoMap | null> {
  const pending = await readPending(state);
  if (!pending) return null;
  const now = clock.now();
  if (pending.value.effective_beat !== undefined) {
    if (pending.value.effective_at && Date.parse(pending.value.effective_at) <= now) {
      await state.delete(STATE_KEYS.tempoPending, { expectedRevision: pending.revision }).catch(() => {});
    }
    return null;
  }
  const current = await readTempoMap(state);
  if (!current) return null;
  const placed = applyTempoChange(pruneTempoMap(current.map, now - 60_000), pending.value.tempo_bpm, now);
  await state.update(STATE_KEYS.tempoMap, encodeJson(placed.map), current.revision);
  const applied: PendingTempo = { ...pending.value, effective_beat: placed.effectiveBeat, effective_at: new Date(placed.effectiveTime).toISOString() };
  await state.update(STATE_KEYS.tempoPending, encodeJson(applied), pending.revision).catch(() => {});
  return placed.map;
}
