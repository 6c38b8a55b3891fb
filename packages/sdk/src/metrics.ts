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
      received: new Counter({ name: 'backbeat_sdk_frames_received_total', help: 'BeatFrames received from the leader', registers }),
      dropped: new Counter({ name: 'backbeat_sdk_frames_dropped_total', help: 'BeatFrames not used, by reason', labelNames: ['reason'], registers }),
      synthesized: new Counter({ name: 'backbeat_sdk_frames_synthesized_total', help: 'Slots fired locally because the leader was late (REQ-003)', registers }),
      degraded: new Gauge({ name: 'backbeat_sdk_local_degradation', help: '1 while the client keeps time by itself', registers }),
      emitted: new Counter({ name: 'backbeat_sdk_claims_emitted_total', help: 'Status claims acknowledged by the stream', registers }),
      failed: new Counter({ name: 'backbeat_sdk_claims_failed_total', help: 'Status claims not sent, by reason', labelNames: ['reason'], registers }),
      skew: new Gauge({ name: 'backbeat_sdk_hlc_skew_seconds', help: 'Last frame HLC physical time minus the local wall clock', registers }),
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
}
