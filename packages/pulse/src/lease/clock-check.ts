/**
 * The leader's clock check (docs/spec.md §7 Election, terms and fencing): a node whose clock is off
 * cannot be trusted to put the beat on the grid, so it does not take or keep the lease. The offset
 * is estimated against the NATS servers: the node writes a probe key in the lease bucket and
 * compares the server's timestamp of that write with the middle of the round trip; the estimate's
 * error is at most half the round trip (plus the timestamp's 1 ms resolution). The probe with the
 * shortest round trip among the recent ones is the estimate.
 */
import type { Clock, Logger, TimerHandle } from '@backbeat/core';
import type { KvBucket } from '@backbeat/transport';

/** What the clock check knows. */
export interface ClockCheckStatus {
  /** 'unknown' before the first probe answered; 'beyond' while provably off by more than the bound. */
  readonly state: 'unknown' | 'ok' | 'beyond';
  /** Local clock minus the server's, in ms (positive: this node is ahead), or null. */
  readonly offsetMs: number | null;
  /** Error bound of that estimate, in ms. */
  readonly uncertaintyMs: number | null;
  /** The bound (`--max-clock-offset`). */
  readonly maxOffsetMs: number;
}

/** Options of {@link ClockCheck}. */
export interface ClockCheckOptions {
  readonly kv: KvBucket;
  readonly nodeId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Largest offset a leader may have. @default 20 */
  readonly maxOffsetMs: number;
  /** Probe period. @default 1000 */
  readonly everyMs?: number;
  /** Called after each probe. */
  readonly onChange?: (s: ClockCheckStatus) => void;
}

const SAMPLES = 8;

/** Probes the offset of this node's clock against the NATS servers. */
export class ClockCheck {
  #samples: Array<{ offset: number; half: number }> = [];
  #state: ClockCheckStatus['state'] = 'unknown';
  #timer: TimerHandle | undefined;
  #running = false;
  readonly #key: string;

  constructor(private readonly o: ClockCheckOptions) {
    this.#key = `clock.${o.nodeId.replace(/[^-/_=a-zA-Z0-9]/g, '_')}`;
  }

  /** Probes now (the result is known when it resolves), then every `everyMs`. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#tick();
  }

  /**
   * Stops probing and deletes the probe key. A probe in flight is not waited for: one sent
   * while the connection was down waits out its request timeout (seconds) after the
   * reconnection, and waiting for it would hold a SIGTERM past the CLI's shutdown deadline; its
   * answer does not matter. Should it write the key again after this delete, the lease bucket's TTL
   * expires it.
   */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) this.o.clock.clearTimeout(this.#timer);
    await this.o.kv.delete(this.#key).catch(() => {});
  }

  status(): ClockCheckStatus {
    const best = this.#best();
    return {
      state: this.#state,
      offsetMs: best ? best.offset : null,
      uncertaintyMs: best ? best.half : null,
      maxOffsetMs: this.o.maxOffsetMs,
    };
  }

  /** Why this node may not lead, or null when its clock is known to be within the bound. */
  refusal(): string | null {
    const s = this.status();
    if (s.state === 'ok') return null;
    if (s.state === 'unknown') return 'clock offset against the NATS servers not measured yet';
    const offset = `${s.offsetMs!.toFixed(1)} ms (± ${s.uncertaintyMs!.toFixed(1)})`;
    return `clock offset ${offset} against the NATS servers is beyond --max-clock-offset ${this.o.maxOffsetMs} ms`;
  }

  #best(): { offset: number; half: number } | undefined {
    let best: { offset: number; half: number } | undefined;
    for (const s of this.#samples) if (!best || s.half < best.half) best = s;
    return best;
  }

  async #tick(): Promise<void> {
    await this.#probe();
    if (this.#running) this.#timer = this.o.clock.setTimeout(() => void this.#tick(), this.o.everyMs ?? 1000);
  }

  async #probe(): Promise<void> {
    const { kv, clock } = this.o;
    try {
      const t0 = clock.now();
      const revision = await kv.put(this.#key, new Uint8Array(0));
      const t1 = clock.now();
      const e = await kv.get(this.#key);
      if (!this.#running) return; // stopped meanwhile: nothing to report
      if (!e || e.revision !== revision) return; // expired or rewritten meanwhile: no sample
      this.#samples.push({ offset: (t0 + t1) / 2 - e.created, half: (t1 - t0) / 2 + 1 });
      if (this.#samples.length > SAMPLES) this.#samples.shift();
    } catch {
      return; // KV unreachable: the lease logic reports that; keep the last estimate
    }
    const best = this.#best()!;
    const beyond = Math.abs(best.offset) - best.half > this.o.maxOffsetMs;
    const next = beyond ? 'beyond' : 'ok';
    if (next !== this.#state) {
      const was = this.#state;
      this.#state = next;
      // One log line per change of verdict.
      if (next === 'beyond')
        this.o.logger.error(
          { offset_ms: best.offset, uncertainty_ms: best.half, max_clock_offset_ms: this.o.maxOffsetMs },
          `${this.refusal()}: this node will not lead`,
        );
      else if (was === 'beyond')
        this.o.logger.info(
          { offset_ms: best.offset, max_clock_offset_ms: this.o.maxOffsetMs },
          'clock offset back within --max-clock-offset',
        );
    }
    this.o.onChange?.(this.status());
  }
}
