/** Reverb's Prometheus metrics, on a per-instance registry. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric reverb exports. */
export interface ReverbMetrics {
  readonly registry: Registry;
  readonly claims: Counter<'outcome'>;
  readonly rejected: Counter<'reason'>;
  readonly rollup: Histogram;
  readonly activeWindows: Gauge;
  readonly reports: Counter;
  readonly agentsReporting: Gauge;
  readonly reportFailures: Counter;
  readonly catchUpReads: Counter;
}

/** Registers the reverb metrics on `registry` (a new one by default). */
export function createReverbMetrics(registry = new Registry()): ReverbMetrics {
  const registers = [registry];
  return {
    registry,
    claims: new Counter({
      name: 'backbeat_reverb_claims_total',
      help: 'Status claims ingested, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    rejected: new Counter({
      name: 'backbeat_reverb_claims_rejected_total',
      help: 'Status claims refused, by reason (sent to the DLQ)',
      labelNames: ['reason'],
      registers,
    }),
    rollup: new Histogram({
      name: 'backbeat_reverb_rollup_duration_seconds',
      help: 'Downbeat frame to published BarReport',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    }),
    activeWindows: new Gauge({ name: 'backbeat_reverb_active_windows', help: 'Windows held in memory', registers }),
    reports: new Counter({
      name: 'backbeat_reverb_reports_published_total',
      help: "BarReports whose stored copy is this replica's (the report stream republishes each on the reverb subject)",
      registers,
    }),
    agentsReporting: new Gauge({
      name: 'backbeat_reverb_agents_reporting',
      help: 'Agents reporting in the last bar',
      registers,
    }),
    reportFailures: new Counter({
      name: 'backbeat_reverb_report_store_failures_total',
      help: 'BarReport stores that failed (each is retried)',
      registers,
    }),
    catchUpReads: new Counter({
      name: 'backbeat_reverb_catch_up_reads_total',
      help: 'Reports before which the claim consumer was behind and the claim stream was read directly',
      registers,
    }),
  };
}
