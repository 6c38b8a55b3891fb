/**
 * Tempo changes across the cluster (BACKBEAT-REQ-004). Any node accepts a request and keeps
 * it in KV as the one pending change (create-if-absent: a second request conflicts); the
 * leader places it at the next downbeat as a new tempo-map segment, then clears it once the
 * downbeat has passed.
 */
import {
  applyTempoChange,
  pruneTempoMap,
  TempoChangeError,
  validateTempoChange,
  type Clock,
  type TempoMap,
} from '@backbeat/core';
import { encodeJson, KvConflictError, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import { gatePending, gateTempoMap, type PendingTempo } from './tempo-gates.js';

export type { PendingTempo } from './tempo-gates.js';

/** A tempo change request (the POST /tempo body). */
export interface TempoRequest {
  readonly tempo_bpm: number;
  readonly justification?: string;
}

/**
 * Reads the pending change and its revision through its gate: `value` is null when the stored
 * value was refused.
 */
export async function readPending(state: KvBucket): Promise<{ value: PendingTempo | null; revision: number } | null> {
  const e = await state.get(STATE_KEYS.tempoPending);
  if (!e) return null;
  const r = gatePending(e.value);
  return { value: r.ok ? r.value : null, revision: e.revision };
}

/** Reads the tempo map and its revision through its gate; null when absent or refused. */
export async function readTempoMap(state: KvBucket): Promise<{ map: TempoMap; revision: number } | null> {
  const e = await state.get(STATE_KEYS.tempoMap);
  if (!e) return null;
  const r = gateTempoMap(e.value);
  return r.ok ? { map: r.value, revision: e.revision } : null;
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
  if (!current)
    throw new TempoChangeError(
      'BB_ERR_TEMPO_CHANGE_PENDING',
      'no tempo map yet: wait until a leader has started the grid',
      req.tempo_bpm,
      0,
    );
  const now = ctx.clock.now();
  const pending = await readPending(state);
  validateTempoChange(current.map, {
    tempoBpm: req.tempo_bpm,
    at: now,
    minBpm: ctx.minBpm,
    maxBpm: ctx.maxBpm,
    pending: pending !== null,
  });
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
      throw new TempoChangeError(
        'BB_ERR_TEMPO_CHANGE_PENDING',
        'a tempo change is already pending until the next downbeat',
        req.tempo_bpm,
        current.map.segments.at(-1)!.tempoBpm,
      );
    }
    throw err;
  }
  return value;
}

/**
 * Leader side: places a pending change on the grid, or clears one whose downbeat has passed
 * (or that its gate refused: it would block every later change). Returns the new map and its
 * revision when it changed it.
 */
export async function applyPendingTempo(
  state: KvBucket,
  clock: Clock,
): Promise<{ map: TempoMap; revision: number } | null> {
  const read = await readPending(state);
  if (!read) return null;
  const now = clock.now();
  if (
    read.value === null ||
    (read.value.effective_beat !== undefined && read.value.effective_at && Date.parse(read.value.effective_at) <= now)
  ) {
    await state.delete(STATE_KEYS.tempoPending, { expectedRevision: read.revision }).catch(() => {});
    return null;
  }
  const pending = { value: read.value, revision: read.revision };
  if (pending.value.effective_beat !== undefined) return null;
  const current = await readTempoMap(state);
  if (!current) return null;
  const placed = applyTempoChange(pruneTempoMap(current.map, now - 60_000), pending.value.tempo_bpm, now);
  const revision = await state.update(STATE_KEYS.tempoMap, encodeJson(placed.map), current.revision);
  const applied: PendingTempo = {
    ...pending.value,
    effective_beat: placed.effectiveBeat,
    effective_at: new Date(placed.effectiveTime).toISOString(),
  };
  await state.update(STATE_KEYS.tempoPending, encodeJson(applied), pending.revision).catch(() => {});
  return { map: placed.map, revision };
}
