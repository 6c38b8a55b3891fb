/**
 * `@backbeat/pulse/internal`: the parts inside the package that its tests drive directly (the
 * lease machine and its shell, the KV gates, the scheduler, the frame encoder, the beat stream's
 * names, the drift tracker). Not a public API: it changes with the code.
 */
export {
  step,
  initialLeaseState,
  leadershipOf,
  mayPublish,
  quorumHeldUntil,
  type LeaseState,
  type LeaseStep,
} from './lease/machine.js';
export type {
  KvAnswer,
  KvFailure,
  KvOp,
  LeaseConfig,
  LeaseEffect,
  LeaseEvent,
  LeaseNow,
  LeaseTimer,
} from './lease/machine-io.js';
export { KvLeaseElector, kvFailure, type KvLeaseOptions } from './lease/kv-lease-elector.js';
export { INCUMBENT_HEAD_START_MS } from './lease/campaign.js';
export { TAKEOVER_SAFETY_MS, takeoverDueAt } from './lease/takeover.js';
export { LEADER_TERM_KEY, type LeaseRead, type PulseLeaseRecord, type TermRead } from './lease/records.js';
export {
  leaseRequestTimeoutMs,
  needsHandoverGuard,
  outageTimings,
  outageValidity,
  OUTAGE_RETRY_MS,
  type OutageTimings,
} from './lease/outage.js';
export { gateLease, gateSlot, gateTermRecord, type TermRecord, type WireSlot } from './lease/lease-gates.js';
export { gatePending, gateTempoMap } from './tempo/tempo-gates.js';
export type { GateResult, GatedKey } from './kv-gate.js';
export { ClockCheck, type ClockCheckOptions } from './lease/clock-check.js';
export { BeatScheduler, type BeatSchedulerOptions, type SlotEvent } from './emit/beat-scheduler.js';
export { buildLegacyControl, FrameEncoder } from './emit/frame-encoder.js';
export { beatStreamNames, type BeatStreamNames } from './emit/beat-stream.js';
export { ServerFencedSink } from './emit/server-fenced-sink.js';
export { SharedFence } from './emit/shared-fence.js';
export { DirectSink } from './emit/beat-sink.js';
export { DirectFallback, streamUnavailable, type FallbackEvent, type ProbeAnswer } from './emit/direct-fallback.js';
export { DriftTracker } from './drift.js';
export {
  afterLook,
  afterPause,
  afterStepDown,
  AVOID_OWN_SERVER,
  conflict,
  FRESH_RECORD,
  gateStepDownAnswer,
  gateStreamInfo,
  judge,
  placementRules,
  type AvoidRule,
  type PlacementInput,
  type StreamLook,
} from './lease/placement.js';
export { beatCriticalStreams } from './lease/stream-placement.js';
