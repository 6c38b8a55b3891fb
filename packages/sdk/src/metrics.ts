/** SDK metrics: a snapshot always, prom-client metrics when given a registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Counts and latencies of one client. */
export interface SdkMetricsSnapshot {
  framesReceived: number;
  framesDropped: Record<string, number>;
  framesSynthesized: number;
  callbacks: number;
  /** Latency from frame receipt to the end of its callbacks, ms: last and max. */
  callbackLastMs: number;
  callbackMaxMs: number;
  claimsEmitted: number;
  claimsFailed: Record<string, number>;
  claimsQueued: number;
  /** Slots never fired because their phase ended before the client could (a stall, a gap, a jump). */
  slotsSkipped: number;
  /** Grid-fired slots the leader's frame confirmed, and the lag from firing to confirmation, ms. */
  framesConfirmed: number;
  confirmLagLastMs: number;
  confirmLagMaxMs: number;
}

/** Records SDK metrics. */
export class SdkMetrics {
  readonly snapshot: SdkMetricsSnapshot = {
    framesReceived: 0,
    framesDropped: {},
    framesSynthesized: 0,
    callbacks: 0,
    callbackLastMs: 0,
    callbackMaxMs: 0,
    claimsEmitted: 0,
    claimsFailed: {},
    claimsQueued: 0,
    slotsSkipped: 0,
    framesConfirmed: 0,
    confirmLagLastMs: 0,
    confirmLagMaxMs: 0,
  };
  #prom?: {
    callback: Histogram;
    received: Counter;
    dropped: Counter<'reason'>;
    synthesized: Counter;
    degraded: Gauge;
    emitted: Counter;
    failed: Counter<'reason'>;
    skew: Gauge;
    skipped: Counter;
    confirmLag: Histogram;
    offset: Gauge;
  };

  constructor(registry?: Registry) {
    if (!registry) return;
    const registers = [registry];
    this.#prom = {
      callback: new Histogram({
        name: 'backbeat_sdk_callback_duration_seconds',
        help: 'Frame receipt to the end of its beat callbacks',
        buckets: [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        registers,
      }),
      received: new Counter({
        name: 'backbeat_sdk_frames_received_total',
        help: 'BeatFrames received from the leader',
        registers,
      }),
      dropped: new Counter({
        name: 'backbeat_sdk_frames_dropped_total',
        help: 'BeatFrames not used, by reason',
        labelNames: ['reason'],
        registers,
      }),
      synthesized: new Counter({
        name: 'backbeat_sdk_frames_synthesized_total',
        help: 'Slots fired from the tempo map: local (the leader was late, REQ-003) or grid timing',
        registers,
      }),
      degraded: new Gauge({
        name: 'backbeat_sdk_local_degradation',
        help: '1 while the client keeps time by itself',
        registers,
      }),
      emitted: new Counter({
        name: 'backbeat_sdk_claims_emitted_total',
        help: 'Status claims acknowledged by the stream',
        registers,
      }),
      failed: new Counter({
        name: 'backbeat_sdk_claims_failed_total',
        help: 'Status claims not sent, by reason',
        labelNames: ['reason'],
        registers,
      }),
      skew: new Gauge({
        name: 'backbeat_sdk_hlc_skew_seconds',
        help: 'Last frame HLC physical time minus the local wall clock',
        registers,
      }),
      skipped: new Counter({
        name: 'backbeat_sdk_slots_skipped_total',
        help: 'Slots not fired because their phase had ended (stall, gap or jump)',
        registers,
      }),
      confirmLag: new Histogram({
        name: 'backbeat_sdk_grid_confirmation_lag_seconds',
        help: 'Grid timing: from firing a slot to the leader frame confirming it',
        buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5],
        registers,
      }),
      offset: new Gauge({
        name: 'backbeat_sdk_clock_offset_seconds',
        help:
          'This clock minus the leader clock, estimated from frames (an upper ' +
          'bound: includes the smallest network delay)',
        registers,
      }),
    };
  }

  received(): void {
    this.snapshot.framesReceived++;
    this.#prom?.received.inc();
  }

  dropped(reason: string): void {
    this.snapshot.framesDropped[reason] = (this.snapshot.framesDropped[reason] ?? 0) + 1;
    this.#prom?.dropped.inc({ reason });
  }

  synthesized(): void {
    this.snapshot.framesSynthesized++;
    this.#prom?.synthesized.inc();
  }

  degraded(on: boolean): void {
    this.#prom?.degraded.set(on ? 1 : 0);
  }

  callback(ms: number): void {
    this.snapshot.callbacks++;
    this.snapshot.callbackLastMs = ms;
    if (ms > this.snapshot.callbackMaxMs) this.snapshot.callbackMaxMs = ms;
    this.#prom?.callback.observe(ms / 1000);
  }

  emitted(): void {
    this.snapshot.claimsEmitted++;
    this.#prom?.emitted.inc();
  }

  failed(reason: string): void {
    this.snapshot.claimsFailed[reason] = (this.snapshot.claimsFailed[reason] ?? 0) + 1;
    this.#prom?.failed.inc({ reason });
  }

  skew(seconds: number): void {
    this.#prom?.skew.set(seconds);
  }

  /** Slots skipped by bounded catch-up. */
  skipped(n: number): void {
    this.snapshot.slotsSkipped += n;
    this.#prom?.skipped.inc(n);
  }

  /** A grid-fired slot confirmed by the leader's frame `lagMs` after it fired. */
  confirmed(lagMs: number): void {
    this.snapshot.framesConfirmed++;
    this.snapshot.confirmLagLastMs = lagMs;
    if (lagMs > this.snapshot.confirmLagMaxMs) this.snapshot.confirmLagMaxMs = lagMs;
    this.#prom?.confirmLag.observe(lagMs / 1000);
  }

  /** The clock-offset estimate (clock-offset.ts), ms. */
  offset(ms: number | null): void {
    if (ms !== null) this.#prom?.offset.set(ms / 1000);
  }
}
