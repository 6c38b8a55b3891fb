/**
 * The tempo watch: follows the tempo map and the pending tempo change in the cluster's
 * state bucket (read and watch), each value through its one gate. A refused value is logged
 * once (until a good one arrives), counted, and the last good value stays in force
 * (BACKBEAT-REQ-003, -004).
 */
import type { Logger, TempoMap } from '@backbeat/core';
import { retryTransient, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import type { GatedKey, GateResult } from '../kv-gate.js';
import { gatePending, gateTempoMap, type PendingTempo } from './tempo-gates.js';

/** Options of {@link TempoWatch}. */
export interface TempoWatchOptions {
  readonly logger: Logger;
  /** Called with the new map each time a (checked) tempo map arrives. */
  readonly onMap: (map: TempoMap) => void;
  /** Called when a pending change appears, changes or goes. */
  readonly onPending: (pending: PendingTempo | null) => void;
  /** Called for each refused value, with the revision it was stored at. */
  readonly onRefused: (key: GatedKey, reason: string, revision: number) => void;
}

/** Keeps the last good tempo map and pending change of a cluster. */
export class TempoWatch {
  #map: TempoMap | null = null;
  #mapRevision = 0;
  #pending: PendingTempo | null = null;
  #pendingRevision = 0;
  #stops: Array<() => void> = [];
  readonly #complained = new Set<GatedKey>();

  constructor(
    private readonly kv: KvBucket,
    private readonly o: TempoWatchOptions,
  ) {}

  /** The tempo map in force (null before a leader created one). */
  get map(): TempoMap | null {
    return this.#map;
  }

  /** The pending tempo change, or null. */
  get pending(): PendingTempo | null {
    return this.#pending;
  }

  /** Starts both watches, then reads both keys (the watch's first event may lag). */
  async start(): Promise<void> {
    const m = await this.kv.watch(STATE_KEYS.tempoMap, (e) => {
      if (e.operation === 'put') this.#offerMap(e.value, e.revision);
    });
    const p = await this.kv.watch(STATE_KEYS.tempoPending, (e) => {
      if (e.operation === 'put') this.#offerPending(e.value, e.revision);
      else if (e.revision > this.#pendingRevision) this.#setPending(null, e.revision);
    });
    this.#stops.push(
      () => m.stop(),
      () => p.stop(),
    );
    // A bucket just created on a fresh cluster may have no stream leader for a moment ("no
    // responders"): the reads are retried like the bucket's opening (docs/spec.md §12 Known pitfalls).
    const read = (key: string) =>
      retryTransient(() => this.kv.get(key), { what: `reading ${key}`, logger: this.o.logger });
    const map = await read(STATE_KEYS.tempoMap);
    if (map) this.#offerMap(map.value, map.revision);
    const pending = await read(STATE_KEYS.tempoPending);
    if (pending) this.#offerPending(pending.value, pending.revision);
  }

  /** Stops the watches; idempotent. */
  stop(): void {
    for (const s of this.#stops.splice(0)) s();
  }

  /** Adopts a map this node wrote itself at `revision` (it passed the checks before it was written). */
  adopt(map: TempoMap, revision: number): void {
    if (revision < this.#mapRevision) return;
    this.#mapRevision = revision;
    this.#map = map;
    this.o.onMap(map);
  }

  #offerMap(bytes: Uint8Array, revision: number): void {
    if (revision <= this.#mapRevision) return;
    const r = this.#gate('tempo-map', gateTempoMap(bytes), revision);
    if (r) this.adopt(r, revision);
  }

  #offerPending(bytes: Uint8Array, revision: number): void {
    if (revision <= this.#pendingRevision) return;
    const r = this.#gate('tempo-pending', gatePending(bytes), revision);
    if (r) this.#setPending(r, revision);
  }

  #setPending(p: PendingTempo | null, revision: number): void {
    this.#pendingRevision = revision;
    this.#pending = p;
    this.o.onPending(p);
  }

  #gate<T>(key: GatedKey, r: GateResult<T>, revision: number): T | undefined {
    if (r.ok) {
      this.#complained.delete(key);
      return r.value;
    }
    this.o.onRefused(key, r.reason, revision);
    if (!this.#complained.has(key)) {
      this.#complained.add(key);
      this.o.logger.warn({ key, reason: r.reason }, 'refused a bad KV value; the last good one stays in force');
    }
    return undefined;
  }
}
