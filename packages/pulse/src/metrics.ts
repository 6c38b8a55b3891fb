/** The pulse's Prometheus metrics, with the seed's names, on a per-instance registry. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const SUB_MS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25];

/** Every metric the pulse exports. */
export interface PulseMetrics {
  readonly registry: Registry;
  readonly publishDuration: Histogram;
  readonly jitter: Histogram;
  readonly timerDriftRatio: Gauge;
  readonly isLeader: Gauge;
  readonly beatsTotal: Counter<'phase'>;
  readonly tempoChangeErrors: Counter<'reason'>;
  readonly leadershipChanges: Counter;
  readonly framesSkipped: Counter<'reason'>;
  readonly tempoBpm: Gauge;
  readonly term: Gauge;
}

/** Registers the pulse metrics on `registry` (a new one by default). */
export function createPulseMetrics(registry = new Registry()): PulseMetrics {
  return {
    registry,
    publishDuration: new Histogram({ name: 'backbeat_beat_publish_duration_seconds', help: 'Time spent publishing one BeatFrame', buckets: SUB_MS, registers: [registry] }),
    jitter: new Histogram({
      name: 'backbeat_pulse_jitter_seconds',
      help: 'Publish time minus scheduled time of each BeatFrame (BACKBEAT-PER-002)',
      buckets: SUB_MS,
      registers: [registry],
    }),
    timerDriftRatio: new Gauge({ name: 'backbeat_timer_drift_ratio', help: 'Drift of the local grid against the leader frames, as a ratio of elapsed time (BACKBEAT-PER-003)', registers: [registry] }),
    isLeader: new Gauge({ name: 'backbeat_is_leader', help: '1 while this node holds the leader lease', registers: [registry] }),
    beatsTotal: new Counter({ name: 'backbeat_beats_total', help: 'BeatFrames published by this node', labelNames: ['phase'], registers: [registry] }),
    tempoChangeErrors: new Counter({ name: 'backbeat_tempo_change_errors_total', help: 'Refused tempo changes', labelNames: ['reason'], registers: [registry] }),
    leadershipChanges: new Counter({ name: 'backbeat_leadership_changes_total', help: 'Changes of leader seen by this node', registers: [registry] }),
    framesSkipped: new Counter({
      name: 'backbeat_frames_skipped_total',
      help: 'Grid slots with no frame: during a failover, or stale after a stalled event loop',
      labelNames: ['reason'],
      registers: [registry],
    }),
    tempoBpm: new Gauge({ name: 'backbeat_tempo_bpm', help: 'Tempo in force', registers: [registry] }),
    term: new Gauge({ name: 'backbeat_leadership_term', help: 'Term of the current leader as seen by this node', registers: [registry] }),
  };
}
