/**
 * Keeps a pulse node's emission path running (docs/decisions/0003-emitter-thread.md): starts it
 * once a tempo map exists, hands it each new map and floor, restarts it a second after the
 * emitter thread ends or fails to start (fencing the node meanwhile), and answers a stalled
 * connection by fencing the node and dropping the connection with its buffer.
 */
import type { SlotKey, TempoMap } from '@backbeat/core';
import { startEmission, type Emission, type EmissionContext } from './emission.js';
import { STALL_FENCE_MS } from './frame-publisher.js';
import type { EmitterLoad } from './worker-emitter.js';

/** What {@link NodeEmitter} needs: the emission context without its lifecycle callbacks, and the node's. */
export interface NodeEmitterOptions extends Omit<EmissionContext, 'onStalled' | 'onLost'> {
  /** True while the node runs (an emission that starts after it stopped is stopped at once). */
  readonly running: () => boolean;
  /** Stops this node publishing at once, for `reason` (the elector's fence). */
  readonly fenceNode: (reason: string) => void;
}

/** The node's emission path, started once there is a map and restarted when it is lost. */
export class NodeEmitter {
  #emission: Emission | undefined;
  #starting = false;

  constructor(private readonly o: NodeEmitterOptions) {}

  /** 'worker', 'inline', or null before it started. */
  get where(): 'worker' | 'inline' | null {
    return this.#emission?.where ?? null;
  }

  utilization(): EmitterLoad | null {
    return this.#emission?.utilization() ?? null;
  }

  /** The tempo map changed (or may now exist): hand it over, or start the emission on it. */
  mapChanged(): void {
    const map = this.o.map();
    if (!map || !this.o.running()) return;
    if (this.#emission) return this.#emission.setMap(map);
    if (this.#starting) return;
    this.#starting = true;
    const { clock, logger } = this.o;
    const onLost = (): void => {
      this.o.fenceNode('the emitter thread ended');
      this.#emission = undefined;
      this.#starting = false;
      clock.setTimeout(() => this.mapChanged(), 1000);
    };
    startEmission({ ...this.o, onStalled: (ms) => this.#stalled(ms), onLost }, map).then(
      async (e) => {
        this.#starting = false;
        if (!this.o.running()) return e.stop();
        this.#emission = e;
        e.setMap(this.o.map() as TempoMap);
        const floor = this.o.floor();
        if (floor) e.setFloor(floor);
        logger.info({ where: e.where }, 'emitter running');
      },
      (err: unknown) => {
        this.#starting = false;
        logger.error({ err: (err as Error).message }, 'could not start the emitter; retrying');
        clock.setTimeout(() => this.mapChanged(), 1000);
      },
    );
  }

  setFloor(floor: SlotKey | undefined): void {
    if (floor) this.#emission?.setFloor(floor);
  }

  remoteHlc(hlc: string): void {
    this.#emission?.remoteHlc(hlc);
  }

  /** The node stopped leading: forget what was in flight. */
  reset(): void {
    this.#emission?.reset();
  }

  async stop(): Promise<void> {
    await this.#emission?.stop();
    this.#emission = undefined;
  }

  #stalled(unconfirmedMs: number): void {
    const { bus, clock, logger } = this.o;
    const msg = 'the connection stalled: fencing this node and dropping the connection with its buffer';
    logger.warn({ unconfirmed_ms: Math.round(unconfirmedMs) }, msg);
    this.o.fenceNode('connection stalled');
    if (this.#emission?.where !== 'worker') return;
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
