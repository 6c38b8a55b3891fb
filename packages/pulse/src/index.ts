/**
 * @backbeat/pulse: the leader-elected beat emitter (BACKBEAT-REQ-001..005). This barrel is the
 * public API; what the package's own tests reach inside for is in `@backbeat/pulse/internal`.
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
export type {
  ServiceState,
  TempoStatus,
  LeaderStatus,
  LeaderRole,
  PulseDriftReport,
  Readiness,
} from './status-views.js';
export { resolvePulseOptions, normalizePhases, DEFAULT_LEASE_TTL_MS, DEFAULT_MAX_CLOCK_OFFSET_MS } from './options.js';
export type { PulseOptions, ResolvedPulseOptions } from './options.js';
export { DEFAULT_KV_OUTAGE_GRACE_MS } from './lease/outage.js';
export type { LeaderElector, Leadership } from './lease/leader-elector.js';
export { SingleNodeElector } from './lease/single-node-elector.js';
export type { ClockCheckStatus } from './lease/clock-check.js';
export { LeaseTtlMismatchError, PULSE_ERROR_CODES } from './errors.js';
export type { EmitterLoad } from './emit/emitter-thread.js';
export type { BeatFencing } from './emit/beat-sink.js';
export { createPulseMetrics } from './metrics.js';
export type { PulseMetrics, PulseGaugeReadings } from './metrics.js';
export type { DriftReport } from './drift.js';
export type { PendingTempo, TempoRequest } from './tempo/tempo-changes.js';
export { buildAdminApp, tempoChangeAnswer } from './admin.js';
export type { AdminOptions, TempoChangeAnswer } from './admin.js';
