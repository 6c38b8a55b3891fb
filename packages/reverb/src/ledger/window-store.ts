/**
 * The windows a replica holds, by window id (one per bar), with their ids computed once per
 * bar (a sha256 each, BACKBEAT-REQ-005). Only reported windows are evicted, by age, then by
 * count, oldest first: a window whose report is not stored yet is never dropped (docs/spec.md
 * §9 Reverb: nothing acknowledged is lost). Unreported windows stay few: the bars from the
 * first one not reported to the few bars ahead that claims may name.
 */
import { windowId } from '@backbeat/core';
import { WindowAggregation } from './window.js';

/** Options of {@link WindowStore}. */
export interface WindowStoreOptions {
  readonly clusterId: string;
  /** Beats per bar, read at each new window (it may be learned later from the tempo map). */
  readonly barLength: () => number;
  /** Reported windows are dropped this long after their last update. */
  readonly ttlMs: number;
  /** At most this many reported windows are kept. */
  readonly maxWindows: number;
}

/** Windows by id. */
export class WindowStore {
  readonly #o: WindowStoreOptions;
  readonly #windows = new Map<string, WindowAggregation>();
  readonly #ids = new Map<number, string>();

  constructor(options: WindowStoreOptions) {
    this.#o = options;
  }

  /** The window id of the bar starting at `fromBeat`. */
  id(fromBeat: number): string {
    let id = this.#ids.get(fromBeat);
    if (id === undefined) {
      if (this.#ids.size >= 4096) this.#ids.clear();
      id = windowId(this.#o.clusterId, fromBeat);
      this.#ids.set(fromBeat, id);
    }
    return id;
  }

  /** The window of the bar starting at `fromBeat`, created (empty, at `now`) when not held. */
  get(fromBeat: number, now: number): WindowAggregation {
    const id = this.id(fromBeat);
    let w = this.#windows.get(id);
    if (!w) {
      w = new WindowAggregation(id, fromBeat, this.#o.barLength(), now);
      this.#windows.set(id, w);
    }
    return w;
  }

  /** Windows held. */
  get size(): number {
    return this.#windows.size;
  }

  /** The window of the bar starting at `fromBeat`, when held. */
  peek(fromBeat: number): WindowAggregation | undefined {
    return this.#windows.get(this.id(fromBeat));
  }

  /** The window with this id, when held. */
  find(id: string): WindowAggregation | undefined {
    return this.#windows.get(id);
  }

  /** Windows held, newest first. */
  list(): WindowAggregation[] {
    return [...this.#windows.values()].sort((x, y) => y.fromBeat - x.fromBeat);
  }

  /**
   * Drops reported windows past their TTL, then the oldest reported ones beyond maxWindows; never an unreported one.
   */
  evict(now: number): void {
    let reported = 0;
    for (const [id, w] of this.#windows) {
      if (w.reportedAt === undefined) continue;
      if (now - w.lastUpdated > this.#o.ttlMs) this.#windows.delete(id);
      else reported++;
    }
    if (reported > this.#o.maxWindows) {
      const oldest = [...this.#windows.values()]
        .filter((w) => w.reportedAt !== undefined)
        .sort((x, y) => x.fromBeat - y.fromBeat);
      for (const w of oldest.slice(0, reported - this.#o.maxWindows)) this.#windows.delete(w.windowId);
    }
  }
}
