/**
 * @backbeat/core: the pure logic every BACKBEAT service shares (no I/O): the clock seam, the
 * hybrid logical clock, the tempo map and the beat grid computed from it, tempo change rules,
 * window ids and the error family.
 *
 * ```ts
 * import { createTempoMap, positionAt, scheduleAt, systemClock, windowId, Hlc, formatHlc } from '@backbeat/core';
 *
 * const map = createTempoMap({ startTime: systemClock.now(), tempoBpm: 12, barLength: 8 });
 * const pos = positionAt(map, systemClock.now())!;  // {beatIndex, phase, phaseStart, phaseEnd, downbeat, ...}
 * windowId('chorus-aus-01', pos.downbeatIndex);    // 32 hex chars (BACKBEAT-REQ-005)
 * scheduleAt(systemClock, pos.phaseEnd, (firedAt) => console.log('next phase', firedAt));
 *
 * const hlc = new Hlc('pulse-1');
 * formatHlc(hlc.now());                            // '19a8f3c2b10:0000:9f86d081'
 * ```
 *
 * Guide: docs/tempo-guide.md.
 */
export { BackbeatError, InvalidArgumentError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { HTTP_ERROR_CODES, httpError, sendHttpError } from './http-errors.js';
export {
  HTTP_LIMITS,
  PAGE_SECURITY_HEADERS,
  adminTokenProblem,
  errorAnswer,
  bearerHeader,
  bearerMatches,
  guardHook,
  guardRequest,
  httpServerOptions,
  isLoopbackHost,
  loopbackBindProblem,
  parseBearer,
} from './http-guard.js';
export type {
  GuardOptions,
  GuardRefusal,
  GuardReply,
  GuardRequest,
  HttpLimits,
  ServerErrorLike,
} from './http-guard.js';
export { redactCredentials } from './redact.js';
export { DEFAULT_BAR_LENGTH, DEFAULT_CLUSTER_ID } from './defaults.js';
export type { LifecycleState } from './defaults.js';
export type { ErrorReply, HttpErrorBody, HttpErrorCode } from './http-errors.js';

export { systemClock, createSystemClock } from './clock.js';
export type { Clock, TimerHandle, SystemClockOptions } from './clock.js';
export { BLOCK_WINDOW_MS, scheduleAt, sleepUntil } from './schedule.js';
export type { ScheduleOptions, SleepOptions } from './schedule.js';
export { FakeClock } from './fake-clock.js';

export { Hlc } from './hlc.js';
export type { HlcOptions, HlcUpdate } from './hlc.js';
export {
  formatHlc,
  parseHlc,
  compareHlc,
  hlcNodeSuffix,
  HLC_PLACEHOLDER,
  hlcHole,
  fillHlcHole,
  hlcInHole,
} from './hlc-wire.js';
export type { HlcHole, HlcTimestamp } from './hlc-wire.js';

export { PHASES, PHASE_ALIASES, isPhase } from './phases.js';
export type { Phase } from './phases.js';
export {
  createTempoMap,
  checkTempoMap,
  tempoMapToJson,
  tempoMapFromJson,
  beatDurationMs,
  tempoAt,
  pruneTempoMap,
  segmentIndexAt,
  segmentIndexForBeat,
  CONTRACT_MIN_BPM,
  CONTRACT_MAX_BPM,
  MAX_BAR_LENGTH,
} from './tempo-map.js';
export type { TempoMap, TempoSegment, CreateTempoMapOptions } from './tempo-map.js';
export {
  timeOf,
  slot,
  positionAt,
  nextSlot,
  slotAtOrAfter,
  slotAfter,
  slotsFrom,
  compareSlots,
  slotsBetween,
  firstBeat,
  nextDownbeat,
} from './beat-clock.js';
export type { BeatPosition, SlotKey } from './beat-clock.js';
export { toLegacy, fromLegacy } from './legacy.js';
export type { LegacyBeat } from './legacy.js';
export {
  validateTempoChange,
  applyTempoChange,
  changeTempo,
  pendingTempoChange,
  TempoChangeError,
  MAX_TEMPO_DELTA,
  TEMPO_CHANGE_RULES,
} from './tempo-change.js';
export type {
  TempoChangeRequest,
  TempoChangeContext,
  ApplyTempoChangeOptions,
  ScheduledTempoChange,
  TempoChangeCode,
} from './tempo-change.js';
export { windowId, downbeatOf, windowIdForBeat } from './window.js';

export { silentLogger } from './logger.js';
export { workerScript } from './worker-script.js';
export type { Logger } from './logger.js';
