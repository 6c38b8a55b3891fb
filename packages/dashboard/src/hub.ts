/**
 * The dashboard's live updates: every change the page shows (beat, bar, report, cluster,
 * dead letter) as a numbered event in a bounded buffer. The page long-polls it
 * (`GET /api/v1/updates?after=N`): each request ends within a fraction of a second, so no
 * request stays open and a headless screenshot with a virtual-time budget finishes.
 */
import type { DashboardSource } from './source.js';

/** One live change. */
export interface HubEvent {
  readonly seq: number;
  readonly event: 'beat' | 'bar' | 'report' | 'cluster' | 'deadletter';
  readonly data: unknown;
}

/** What a poll returns: the events after the caller's sequence, or `reset` when it must reload the snapshot. */
export interface HubAnswer {
  readonly seq: number;
  readonly events: readonly HubEvent[];
  readonly reset: boolean;
}

/** Events kept for pollers that fall behind. */
export const HUB_BUFFER = 512;

/** Collects a source's changes into numbered events. */
export class UpdateHub {
  #events: HubEvent[] = [];
  #seq = 0;
  #waiters = new Set<() => void>();
  #barQueued = false;
  readonly #offs: Array<() => void>;

  constructor(source: DashboardSource) {
    this.#offs = [
      source.onBeat((b) => {
        this.#push('beat', b);
        // The leader, term and nodes once per beat: enough for the cluster panel.
        if (b.phase === b.phases[0]) void source.cluster().then((c) => this.#push('cluster', c), () => {});
      }),
      source.onReport((r) => this.#push('report', r)),
      source.onDeadLetter((d) => this.#push('deadletter', d)),
      source.onBarChange(() => {
        // Coalesce: one bar update per 100 ms however many claims arrive.
        if (this.#barQueued) return;
        this.#barQueued = true;
        setTimeout(() => {
          this.#barQueued = false;
          this.#push('bar', source.currentBar());
        }, 100).unref();
      }),
    ];
  }

  /** Sequence of the last event (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  #push(event: HubEvent['event'], data: unknown): void {
    this.#events.push({ seq: ++this.#seq, event, data });
    if (this.#events.length > HUB_BUFFER) this.#events.shift();
    this.#wake();
  }

  /** Calls `cb` after each new event; returns the function that stops it. */
  listen(cb: () => void): () => void {
    const loop = () => {
      cb();
      this.#waiters.add(loop);
    };
    this.#waiters.add(loop);
    return () => this.#waiters.delete(loop);
  }

  /** Events after `after`, `reset` when the caller missed some or comes from another run of the server. */
  since(after: number): HubAnswer {
    const oldest = this.#events[0]?.seq ?? this.#seq + 1;
    if (after > this.#seq || (after < oldest - 1 && after !== 0)) return { seq: this.#seq, events: [], reset: true };
    return { seq: this.#seq, events: this.#events.filter((e) => e.seq > after), reset: false };
  }

  /** {@link since}, waiting at most `holdMs` for a first event when there is none yet. */
  async poll(after: number, holdMs: number): Promise<HubAnswer> {
    const now = this.since(after);
    if (now.events.length > 0 || now.reset) return now;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, holdMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.add(done);
    });
    return this.since(after);
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Stops listening to the source and answers every waiting poll. */
  close(): void {
    for (const off of this.#offs) off();
    this.#wake();
  }
}
