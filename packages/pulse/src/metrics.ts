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
  readonly beatWritesRefused: Counter;
  readonly beatFallbackFrames: Counter;
  readonly tempoBpm: Gauge;
  readonly term: Gauge;
  readonly kvValuesRefused: Counter<'key'>;
  readonly clockOffset: Gauge<'against'>;
  readonly streamStepdowns: Counter<'stream' | 'reason'>;
}

/**
 * Readings taken at each scrape, so the gauges say what is true now: the tempo in
 * force at this instant, whether this node may publish at this instant.
 */
export interface PulseGaugeReadings {
  readonly tempoBpm?: () => number | null;
  readonly isLeader?: () => boolean;
  readonly term?: () => number;
  /** Clock offsets in ms, by what they were measured against ('nats', 'peers'); null: unknown. */
  readonly clockOffsetMs?: () => Readonly<Record<string, number | null>>;
}

/** Registers the pulse metrics on `registry` (a new one by default), read at scrape time from `readings`. */
export function createPulseMetrics(registry = new Registry(), readings: PulseGaugeReadings = {}): PulseMetrics {
  return {
    registry,
    publishDuration: new Histogram({
      name: 'backbeat_beat_publish_duration_seconds',
      help: 'Time spent publishing one BeatFrame',
      buckets: SUB_MS,
      registers: [registry],
    }),
    jitter: new Histogram({
      name: 'backbeat_pulse_jitter_seconds',
      help: 'Publish time minus scheduled time of each BeatFrame (BACKBEAT-PER-002)',
      buckets: SUB_MS,
      registers: [registry],
    }),
    timerDriftRatio: new Gauge({
      name: 'backbeat_timer_drift_ratio',
      help: 'Drift of the local grid against the leader frames, as a ratio of elapsed time (BACKBEAT-PER-003)',
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: 'backbeat_is_leader',
      help: '1 while this node holds the leader lease and may publish',
      registers: [registry],
      collect() {
        if (readings.isLeader) this.set(readings.isLeader() ? 1 : 0);
      },
    }),
    beatsTotal: new Counter({
      name: 'backbeat_beats_total',
      help: 'BeatFrames published by this node',
      labelNames: ['phase'],
      registers: [registry],
    }),
    tempoChangeErrors: new Counter({
      name: 'backbeat_tempo_change_errors_total',
      help: 'Refused tempo changes',
      labelNames: ['reason'],
      registers: [registry],
    }),
    leadershipChanges: new Counter({
      name: 'backbeat_leadership_changes_total',
      help: 'Changes of leader seen by this node',
      registers: [registry],
    }),
    framesSkipped: new Counter({
      name: 'backbeat_frames_skipped_total',
      help:
        'Grid slots with no frame: during a failover, stale after a stalled event loop, ' +
        'held back or not stored by the beat stream',
      labelNames: ['reason'],
      registers: [registry],
    }),
    beatWritesRefused: new Counter({
      name: 'backbeat_beat_writes_refused_total',
      help: "Refusals of this node's BeatFrames by the beat stream for a newer term (each fenced the node)",
      registers: [registry],
    }),
    beatFallbackFrames: new Counter({
      name: 'backbeat_beat_fallback_frames_total',
      help:
        'BeatFrames this leader published straight to the beat subject while the beat stream did not answer ' +
        'and a quorum write held its lease (the direct fallback)',
      registers: [registry],
    }),
    tempoBpm: new Gauge({
      name: 'backbeat_tempo_bpm',
      help: 'Tempo in force',
      registers: [registry],
      collect() {
        const bpm = readings.tempoBpm?.();
        if (bpm != null) this.set(bpm);
      },
    }),
    term: new Gauge({
      name: 'backbeat_leadership_term',
      help: 'Term of the current leader as seen by this node (counts leaderships)',
      registers: [registry],
      collect() {
        if (readings.term) this.set(readings.term());
      },
    }),
    kvValuesRefused: new Counter({
      name: 'backbeat_kv_values_refused_total',
      help: 'KV values refused by their checks (the last good value stays)',
      labelNames: ['key'],
      registers: [registry],
    }),
    clockOffset: new Gauge({
      name: 'backbeat_clock_offset_seconds',
      help: "This node's clock minus the NATS servers' (against=nats) or the other pulse nodes' (against=peers)",
      labelNames: ['against'],
      registers: [registry],
      collect() {
        for (const [against, ms] of Object.entries(readings.clockOffsetMs?.() ?? {}))
          if (ms !== null) this.set({ against }, ms / 1000);
      },
    }),
    streamStepdowns: new Counter({
      name: 'backbeat_pulse_stream_stepdowns_total',
      help:
        "Step-downs of a beat-critical stream's leader this node asked for " +
        "(reason=colocated: it ran on this leader's NATS server)",
      labelNames: ['stream', 'reason'],
      registers: [registry],
    }),
  };
}
