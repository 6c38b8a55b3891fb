/**
 * The dashboard's live updates: every change the page shows (beat, bar, report, cluster,
 * dead letter) as a numbered event in a buffer bounded in count and in bytes. The page
 * long-polls it (`GET /api/v1/updates?after=N`): each request ends within a fraction of a
 * second, so no request stays open and a headless screenshot with a virtual-time budget
 * finishes. Each event is clipped (clip.ts) and serialised once, when it arrives, so a poll
 * costs a string join of a bounded page however often it is asked (docs/spec.md §10 Security).
 */
import { clip } from './clip.js';
import type { DashboardSource } from './source.js';

/** One live change, with its data serialised. */
export interface HubEvent {
  readonly seq: number;
  readonly event: 'beat' | 'bar' | 'report' | 'cluster' | 'deadletter';
  /** The data as JSON (clipped). */
  readonly json: string;
  /** The event as sent: `{"seq":..,"event":..,"data":..}`. */
  readonly wire: string;
  /** Bytes of {@link wire} (UTF-8). */
  readonly bytes: number;
}

/**
 * What a poll returns: events after the caller's sequence, at most one page of them; `seq` is
 * the last one returned (ask again after it), `more` says whether others follow already;
 * `reset` when the caller must reload the snapshot.
 */
export interface HubAnswer {
  readonly seq: number;
  readonly events: readonly HubEvent[];
  readonly reset: boolean;
  readonly more: boolean;
}

/** Events kept for pollers that fall behind. */
export const HUB_BUFFER = 512;
/** Bytes of events kept at most (oldest dropped first). */
export const HUB_BUFFER_BYTES = 2 * 1024 * 1024;
/**
 * Bytes of events one poll answers with at most (at least one event). Small on purpose: a
 * 32 KiB page is built in about 0.07 ms, a 128 KiB one in 0.7 ms (measured), and a poller
 * that asks back to back holds the event loop for that long each time.
 */
export const HUB_PAGE_BYTES = 32 * 1024;

/** Collects a source's changes into numbered events. */
export class UpdateHub {
  #events: HubEvent[] = [];
  #bytes = 0;
  #seq = 0;
  #waiters = new Set<() => void>();
  #barQueued = false;
  readonly #offs: Array<() => void>;

  constructor(source: DashboardSource) {
    this.#offs = [
      source.onBeat((b) => {
        this.push('beat', b);
        // The leader, term and nodes once per beat: enough for the cluster panel.
        if (b.phase === b.phases[0])
          void source.cluster().then(
            (c) => this.push('cluster', c),
            () => {},
          );
      }),
      source.onReport((r) => this.push('report', r)),
      source.onDeadLetter((d) => this.push('deadletter', d)),
      source.onBarChange(() => {
        // Coalesce: one bar update per 100 ms however many claims arrive.
        if (this.#barQueued) return;
        this.#barQueued = true;
        setTimeout(() => {
          this.#barQueued = false;
          this.push('bar', source.currentBar());
        }, 100).unref();
      }),
    ];
  }

  /** Sequence of the last event (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** Bytes the buffer holds now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds one event (clipped and serialised here); drops the oldest beyond the count and byte bounds. */
  push(event: HubEvent['event'], data: unknown): void {
    const seq = ++this.#seq;
    const json = JSON.stringify(clip(data)) ?? 'null';
    const wire = `{"seq":${seq},"event":"${event}","data":${json}}`;
    const e: HubEvent = { seq, event, json, wire, bytes: Buffer.byteLength(wire) };
    this.#events.push(e);
    this.#bytes += e.bytes;
    while (this.#events.length > HUB_BUFFER || (this.#bytes > HUB_BUFFER_BYTES && this.#events.length > 1)) {
      this.#bytes -= this.#events.shift()!.bytes;
    }
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

  /**
   * Events after `after`, at most `pageBytes` of them (at least one); `reset` when the caller
   * missed some or comes from another run of the server.
   */
  since(after: number, pageBytes = HUB_PAGE_BYTES): HubAnswer {
    const oldest = this.#events[0]?.seq ?? this.#seq + 1;
    if (after > this.#seq || (after < oldest - 1 && after !== 0))
      return { seq: this.#seq, events: [], reset: true, more: false };
    // Sequences are consecutive: the first event after `after` is at a known index.
    const from = Math.max(0, after - oldest + 1);
    const events: HubEvent[] = [];
    let bytes = 0;
    for (let i = from; i < this.#events.length; i++) {
      const e = this.#events[i]!;
      if (events.length > 0 && bytes + e.bytes > pageBytes) break;
      events.push(e);
      bytes += e.bytes;
    }
    const last = events.at(-1)?.seq ?? this.#seq;
    return { seq: last, events, reset: false, more: last < this.#seq };
  }

  /** {@link since}, waiting at most `holdMs` for a first event when there is none yet. */
  async poll(after: number, holdMs: number, pageBytes = HUB_PAGE_BYTES): Promise<HubAnswer> {
    const now = this.since(after, pageBytes);
    if (now.events.length > 0 || now.reset) return now;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, holdMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.add(done);
    });
    return this.since(after, pageBytes);
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

/** The JSON body of a poll's answer, joined from the events' serialised forms. */
export function answerJson(a: HubAnswer): string {
  return `{"seq":${a.seq},"events":[${a.events.map((e) => e.wire).join(',')}],"reset":${a.reset},"more":${a.more}}`;
}
