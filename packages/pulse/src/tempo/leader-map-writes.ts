/**
 * The leader's writes to the tempo map (BACKBEAT-REQ-004): the first leader creates the map,
 * the leader places a pending change at the next downbeat, and it repairs the key when a
 * refused value was written over the good map. Every write it makes is adopted by the
 * tempo watch at its revision.
 */
import { createTempoMap, type Clock, type Logger, type Phase } from '@backbeat/core';
import { encodeJson, KvConflictError, STATE_KEYS, type KvBucket } from '@backbeat/transport';
import { applyPendingTempo, readTempoMap } from './tempo-changes.js';
import type { TempoWatch } from './tempo-watch.js';

/** Options of {@link LeaderMapWriter}. */
export interface LeaderMapWriterOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Tempo, bar and phases of a new map. */
  readonly bpm: number;
  readonly barLength: number;
  readonly phases: readonly Phase[];
  /** True while this node may write as the leader. */
  readonly isLeader: () => boolean;
}

/** Writes the tempo map as the leader. */
export class LeaderMapWriter {
  #applying = false;
  #again = false;
  #retry: (() => void) | undefined;
  #stopped = false;

  constructor(
    private readonly kv: KvBucket,
    private readonly watch: TempoWatch,
    private readonly o: LeaderMapWriterOptions,
  ) {}

  /** Cancels a pending retry; idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#retry?.();
  }

  /** The first leader creates the tempo map; later leaders continue the one in KV. */
  async ensureMap(): Promise<void> {
    if (this.watch.map || this.#stopped) return;
    const { clock, bpm, barLength, phases, logger } = this.o;
    // Beat 0 on the next 100 ms mark at least 250 ms ahead: time for the map to reach every
    // node and client, and a fresh cluster beats within the lease TTL + 1 s of its start.
    const startTime = Math.ceil((clock.wallNow() + 250) / 100) * 100;
    const map = createTempoMap({ startTime, tempoBpm: bpm, barLength, phases });
    try {
      const revision = await this.kv.create(STATE_KEYS.tempoMap, encodeJson(map));
      logger.info({ bpm, bar: barLength, start: new Date(startTime).toISOString() }, 'created the tempo map');
      this.watch.adopt(map, revision);
    } catch (err) {
      if (err instanceof KvConflictError) {
        const existing = await readTempoMap(this.kv).catch(() => null);
        if (existing) this.watch.adopt(existing.map, existing.revision);
        return;
      }
      logger.warn({ err: (err as Error).message }, 'could not create the tempo map; retrying');
      const handle = clock.setTimeout(() => void this.ensureMap(), 500);
      this.#retry = () => clock.clearTimeout(handle);
    }
  }

  /** Writes the last good tempo map over a refused one (compare-and-set on its revision). */
  async restoreMap(badRevision: number): Promise<void> {
    const map = this.watch.map;
    if (!map || !this.o.isLeader()) return;
    try {
      const revision = await this.kv.update(STATE_KEYS.tempoMap, encodeJson(map), badRevision);
      this.watch.adopt(map, revision);
      this.o.logger.info({ revision }, 'restored the last good tempo map over a refused one');
    } catch {
      // a newer value arrived meanwhile: it goes through the gate like any other
    }
  }

  /** Places the pending change at the next downbeat, or clears one that is done or refused. */
  async applyPending(): Promise<void> {
    if (!this.o.isLeader()) return;
    if (this.#applying) {
      this.#again = true; // a newer value arrived meanwhile: look again when this pass ends
      return;
    }
    this.#applying = true;
    this.#again = false;
    try {
      const placed = await applyPendingTempo(this.kv, this.o.clock);
      if (placed) {
        this.watch.adopt(placed.map, placed.revision);
        this.o.logger.info({ segments: placed.map.segments.at(-1) }, 'tempo change placed at the next downbeat');
      }
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'could not apply the pending tempo change');
    } finally {
      this.#applying = false;
    }
    if (this.#again && !this.#stopped) await this.applyPending();
  }
}
