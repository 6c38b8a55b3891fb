/**
 * Drift of this node's grid against the frames it receives (BACKBEAT-REQ-003, PER-003).
 * Each frame's offset is its arrival time minus its slot time on the local copy of the grid;
 * the drift ratio is how fast that offset changes over the window, so a constant network
 * delay does not count as drift.
 */

/** What GET /drift reports. */
export interface DriftReport {
  /** Drift of the local grid against the leader's frames, in percent of elapsed time. */
  readonly timer_drift_percent: number;
  /** Physical HLC of the last frame minus the local wall clock, in seconds. */
  readonly hlc_drift_seconds: number;
  /** When the last frame arrived (RFC 3339), or null. */
  readonly last_sync_time: string | null;
  /** True while this follower keeps time by itself because frames stopped. */
  readonly degradation_mode: boolean;
  /** True while |drift| stays under the seed's 1 % budget. */
  readonly within_limits: boolean;
  /** Offset of the last frame: arrival minus scheduled time, in ms. */
  readonly last_offset_ms: number | null;
  /** Frames measured in the window. */
  readonly samples: number;
}

interface Sample {
  readonly at: number;
  readonly offset: number;
}

/** Tracks frame offsets over a sliding window. */
export class DriftTracker {
  #samples: Sample[] = [];
  #lastFrameAt: number | undefined;
  #hlcDriftMs = 0;

  /**
   * @param windowMs length of the window the ratio is measured over @default 600000
   * @param minSpanMs the ratio stays 0 until the samples span this long: over a short span,
   *   network jitter alone would read as drift @default 10000
   */
  constructor(
    private readonly windowMs = 600_000,
    private readonly minSpanMs = 10_000,
  ) {}

  /** Records one frame: arrival time, its slot time on the local grid, its HLC physical ms and the local wall clock. */
  record(arrivedAt: number, scheduledAt: number, hlcPhysical: number, wallNow: number): void {
    this.#samples.push({ at: arrivedAt, offset: arrivedAt - scheduledAt });
    while (this.#samples.length > 2 && arrivedAt - this.#samples[0]!.at > this.windowMs) this.#samples.shift();
    if (this.#samples.length > 10_000) this.#samples.splice(1, this.#samples.length - 10_000);
    this.#lastFrameAt = arrivedAt;
    this.#hlcDriftMs = hlcPhysical - wallNow;
  }

  /** Drift ratio: change of offset per elapsed time (a least-squares slope). */
  ratio(): number {
    const s = this.#samples;
    if (s.length < 2 || s[s.length - 1]!.at - s[0]!.at < this.minSpanMs) return 0;
    const n = s.length;
    const mx = s.reduce((a, x) => a + x.at, 0) / n;
    const my = s.reduce((a, x) => a + x.offset, 0) / n;
    let num = 0;
    let den = 0;
    for (const x of s) {
      num += (x.at - mx) * (x.offset - my);
      den += (x.at - mx) ** 2;
    }
    return den === 0 ? 0 : num / den;
  }

  /** When the last frame arrived. */
  get lastFrameAt(): number | undefined {
    return this.#lastFrameAt;
  }

  report(degraded: boolean): DriftReport {
    const ratio = this.ratio();
    const last = this.#samples[this.#samples.length - 1];
    return {
      timer_drift_percent: ratio * 100,
      hlc_drift_seconds: this.#hlcDriftMs / 1000,
      last_sync_time: this.#lastFrameAt === undefined ? null : new Date(this.#lastFrameAt).toISOString(),
      degradation_mode: degraded,
      within_limits: Math.abs(ratio) < 0.01,
      last_offset_ms: last ? last.offset : null,
      samples: this.#samples.length,
    };
  }
}
