/**
 * Keeps a pulse node's emitter running (docs/decisions/0003-emitter-thread.md): starts it once a
 * tempo map exists, hands it each new map and floor, restarts it a second after the emitter
 * thread ends or fails to start (fencing the node meanwhile), answers a stalled connection by
 * fencing the node and dropping the connection with its buffer, and a write the beat stream
 * refused for a newer term by fencing the node (docs/spec.md §7 Election, terms and fencing).
 */
import type { SlotKey, TempoMap } from '@backbeat/core';
import { startEmitter, type Emitter, type EmitterContext } from './emit/emitter.js';
import type { EmitterLoad } from './emit/emitter-thread.js';
import type { FallbackEvent } from './emit/direct-fallback.js';
import { STALL_FENCE_MS } from './emit/slot-publisher.js';
import type { PulseMetrics } from './metrics.js';

/** What {@link NodeEmitter} needs: the emitter context without the events it answers itself, and the node's. */
export interface NodeEmitterOptions
  extends Omit<EmitterContext, 'onStalled' | 'onLost' | 'onRefused' | 'onWarning' | 'onFallback'> {
  readonly map: () => TempoMap | null;
  /** The last slot known to be on the wire. */
  readonly floor: () => SlotKey | undefined;
  /** True while the node runs (an emitter that starts after it stopped is stopped at once). */
  readonly running: () => boolean;
  /** Stops this node publishing at once, for `reason` (the elector's fence). */
  readonly fenceNode: (reason: string) => void;
  readonly metrics: Pick<PulseMetrics, 'beatWritesRefused' | 'beatFallbackFrames'>;
}

/** The node's emitter, started once there is a map and restarted when it is lost. */
export class NodeEmitter {
  #emitter: Emitter | undefined;
  #starting = false;

  constructor(private readonly o: NodeEmitterOptions) {}

  /** 'worker', 'inline', or null before it started. */
  get where(): 'worker' | 'inline' | null {
    return this.#emitter?.where ?? null;
  }

  utilization(): EmitterLoad | null {
    return this.#emitter?.utilization() ?? null;
  }

  /** The tempo map changed (or may now exist): hand it over, or start the emitter on it. */
  mapChanged(): void {
    const map = this.o.map();
    if (!map || !this.o.running()) return;
    if (this.#emitter) return this.#emitter.setMap(map);
    if (this.#starting) return;
    this.#starting = true;
    const { clock, logger } = this.o;
    const onLost = (): void => {
      this.o.fenceNode('the emitter thread ended');
      this.#emitter = undefined;
      this.#starting = false;
      clock.setTimeout(() => this.mapChanged(), 1000);
    };
    const ctx: EmitterContext = {
      ...this.o,
      onStalled: (ms) => this.#stalled(ms),
      onRefused: (term, newer) => this.#refused(term, newer),
      onFallback: (e) => this.#fallback(e),
      onWarning: (message) => logger.warn({}, message),
      onLost,
    };
    startEmitter(ctx, map).then(
      async (e) => {
        this.#starting = false;
        if (!this.o.running()) return e.stop();
        this.#emitter = e;
        e.setMap(this.o.map() as TempoMap);
        const floor = this.o.floor();
        if (floor) e.setFloor(floor);
        logger.info({ where: e.where, beat_fencing: e.fencing }, 'emitter running');
      },
      (err: unknown) => {
        this.#starting = false;
        logger.error({ err: (err as Error).message }, 'could not start the emitter; retrying');
        clock.setTimeout(() => this.mapChanged(), 1000);
      },
    );
  }

  setFloor(floor: SlotKey | undefined): void {
    if (floor) this.#emitter?.setFloor(floor);
  }

  remoteHlc(hlc: string): void {
    this.#emitter?.remoteHlc(hlc);
  }

  /** The node stopped leading: forget what was in flight. */
  reset(): void {
    this.#emitter?.reset();
  }

  async stop(): Promise<void> {
    await this.#emitter?.stop();
    this.#emitter = undefined;
  }

  /**
   * The beat stream refused this node's frame: a newer term writes the beat
   * (docs/spec.md §7 Election, terms and fencing).
   */
  #refused(term: number, newerTerm: number): void {
    this.o.metrics.beatWritesRefused.inc();
    const line = "the beat stream refused this leader's frame: a newer term writes the beat; fencing this node";
    this.o.logger.warn({ term, newer_term: newerTerm }, line);
    this.o.fenceNode('the beat stream refused a frame');
  }

  /**
   * The direct fallback while the beat stream has no leader
   * (docs/spec.md §7 Election, terms and fencing, "Direct fallback").
   */
  #fallback(e: FallbackEvent): void {
    const { logger, metrics } = this.o;
    if (e.type === 'frame') return metrics.beatFallbackFrames.inc();
    if (e.type === 'entered') {
      const line = 'the beat stream has no leader; the lease is held by a quorum write: publishing frames directly';
      return logger.warn({ term: e.term, err: e.reason }, line);
    }
    const fields = { term: e.term, frames: e.frames, fallback_ms: Math.round(e.ms), why: e.why };
    logger.info(fields, 'left the direct fallback: frames go through the beat stream again');
  }

  #stalled(unconfirmedMs: number): void {
    const { bus, clock, logger } = this.o;
    const msg = 'the connection stalled: fencing this node and dropping the connection with its buffer';
    logger.warn({ unconfirmed_ms: Math.round(unconfirmedMs) }, msg);
    this.o.fenceNode('connection stalled');
    if (this.#emitter?.where !== 'worker') return;
    // The emitter thread's connection stalled; this thread's goes the same way to the same
    // servers: drop it too unless it answers at once.
    let answered = false;
    bus.flush().then(
      () => (answered = true),
      () => {},
    );
    clock.setTimeout(() => {
      if (!answered) bus.dropConnection();
    }, STALL_FENCE_MS);
  }
}
