/**
 * @backbeat/pulse: the leader-elected beat emitter (BACKBEAT-REQ-001..005).
 *
 * ```ts
 * const bus = await NatsBus.connect({ servers: 'nats://127.0.0.1:4222' });
 * const pulse = new Pulse({ bus, clusterId: 'chorus-aus-01', bpm: 12 });
 * await pulse.start();
 * const admin = buildAdminApp(pulse, { token: process.env.ADMIN_TOKEN });
 * await admin.listen({ host: '127.0.0.1', port: 8080 });
 * ```
 */
export { Pulse } from './pulse.js';
export type { ServiceState, TempoStatus, LeaderStatus, LeaderRole, PulseDriftReport, Readiness } from './status-views.js';
export { resolvePulseOptions, normalizePhases, DEFAULT_LEASE_TTL_MS, DEFAULT_MAX_CLOCK_OFFSET_MS } from './options.js';
export type { PulseOptions, ResolvedPulseOptions } from './options.js';
export { SingleNodeElector } from './elector.js';
export type { LeaderElector, Leadership } from './elector.js';
export { KvLeaseElector } from './kv-lease.js';
export { TAKEOVER_SAFETY_MS, takeoverDueAt } from './lease-takeover.js';
export type { KvLeaseOptions } from './kv-lease.js';
export { LEADER_TERM_KEY } from './lease-records.js';
export type { PulseLeaseRecord } from './lease-records.js';
export { DEFAULT_KV_OUTAGE_GRACE_MS, leaseRequestTimeoutMs, needsHandoverGuard, outageTimings, OUTAGE_RETRY_MS } from './lease-outage.js';
export type { OutageTimings } from './lease-outage.js';
export { LeaseTtlMismatchError, PULSE_ERROR_CODES } from './errors.js';
export { gateLease, gatePending, gateTempoMap, gateTermRecord } from './kv-gates.js';
export type { GateResult, GatedKey, TermRecord, WireSlot } from './kv-gates.js';
export type { EmitterLoad } from './emit/emitter-thread.js';
export { ClockCheck } from './clock-check.js';
export type { ClockCheckOptions, ClockCheckStatus } from './clock-check.js';
export { BeatScheduler } from './emit/beat-scheduler.js';
export type { BeatSchedulerOptions, SlotEvent } from './emit/beat-scheduler.js';
export { buildLegacyControl } from './emit/frame-encoder.js';
export { beatStreamNames } from './emit/beat-stream.js';
export type { BeatFencing } from './emit/beat-sink.js';
export { buildBeatFrame, TERM_HEADER } from '@backbeat/contracts';
export { createPulseMetrics } from './metrics.js';
export type { PulseMetrics, PulseGaugeReadings } from './metrics.js';
export { DriftTracker } from './drift.js';
export type { DriftReport } from './drift.js';
export type { PendingTempo, TempoRequest } from './tempo.js';
export { buildAdminApp, tempoChangeAnswer } from './admin.js';
export type { AdminOptions, TempoChangeAnswer } from './admin.js';
