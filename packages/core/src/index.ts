/**
 * @backbeat/core: the pure logic every BACKBEAT service shares. No I/O.
 *
 * ```ts
 * import { createTempoMap, positionAt, windowId, Hlc } from '@backbeat/core';
 * const map = createTempoMap({ startTime: Date.now(), tempoBpm: 12, barLength: 8 });
 * const pos = positionAt(map, Date.now());      // {beatIndex, phase, phaseEnd, downbeat, ...}
 * windowId('chorus-aus-01', pos!.downbeatIndex); // 32 hex chars (BACKBEAT-REQ-005)
 * new Hlc('pulse-1').nowString();                // '0192f3a1b2c3:0000:9f86d081'
 * ```
 */
export { BackbeatError, InvalidArgumentError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { windowId, downbeatOf, windowIdForBeat } from './window.js';
export { systemClock, scheduleAt } from './clock.js';
export type { Clock, TimerHandle, ScheduleOptions } from './clock.js';
export { FakeClock } from './fake-clock.js';
export { Hlc, formatHlc, parseHlc, compareHlc, hlcNodeSuffix } from './hlc.js';
export type { HlcTimestamp, HlcOptions, HlcUpdate } from './hlc.js';
export { PHASES, PHASE_ALIASES, isPhase } from './phases.js';
export type { Phase } from './phases.js';
export {
  createTempoMap,
  checkTempoMap,
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
  compareSlots,
  firstBeat,
  nextDownbeat,
  toLegacy,
  fromLegacy,
} from './beat-clock.js';
export type { BeatPosition, LegacyBeat } from './beat-clock.js';
export { validateTempoChange, applyTempoChange, TempoChangeError, MAX_TEMPO_DELTA, TEMPO_CHANGE_RULES } from './tempo-change.js';
export type { TempoChangeRequest, ScheduledTempoChange, TempoChangeCode } from './tempo-change.js';
export { silentLogger } from './logger.js';
export type { Logger } from './logger.js';
