/**
 * The server-sent event streams of `/api/v1/events`, bounded under abuse (docs/spec.md §10
 * Security): a stream is written only while its client reads (a write the socket did not take
 * pauses it until `drain`, and it resumes from where it stopped); a client that falls out of
 * the hub's buffer gets `event: reset` and is closed (at once, without it, when it stopped
 * reading); the number of streams is capped, and when
 * the cap is reached the slowest stream that is behind is closed for a newcomer (or, when every
 * stream keeps up, the newcomer is refused).
 */
import type { UpdateHub } from './hub.js';

/** What a stream writes to: a Node response (or anything shaped like one). */
export interface StreamSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  once(event: 'drain' | 'close', cb: () => void): unknown;
}

/** Bounds of {@link LiveStreams}. */
export interface LiveStreamLimits {
  /** Streams open at most. */
  readonly maxStreams: number;
  /** Bytes a stream may have queued before it is closed as too slow. */
  readonly maxQueuedBytes: number;
}

/** The bounds `/api/v1/events` uses. */
export const LIVE_STREAM_LIMITS: LiveStreamLimits = { maxStreams: 32, maxQueuedBytes: 512 * 1024 };

interface Stream {
  readonly sink: StreamSink;
  last: number;
  paused: boolean;
  closed: boolean;
}

/** The open event streams over one hub. */
export class LiveStreams {
  readonly #streams = new Set<Stream>();
  readonly #off: () => void;

  constructor(
    private readonly hub: UpdateHub,
    private readonly limits: LiveStreamLimits = LIVE_STREAM_LIMITS,
  ) {
    this.#off = hub.listen(() => {
      for (const s of this.#streams) this.#flush(s);
    });
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Makes room for one more stream: true when there is room (closing the slowest stream that
   * is behind if the cap is reached), false when every open stream keeps up.
   */
  admit(): boolean {
    if (this.#streams.size < this.limits.maxStreams) return true;
    let slowest: Stream | undefined;
    for (const s of this.#streams) {
      const behind = s.paused || s.sink.writableLength > 0;
      if (!behind) continue;
      if (!slowest || s.sink.writableLength > slowest.sink.writableLength) slowest = s;
    }
    if (!slowest) return false;
    this.#close(slowest, true);
    return true;
  }

  /** Starts streaming events after the hub's current sequence to `sink` (after {@link admit}). */
  add(sink: StreamSink): void {
    const s: Stream = { sink, last: this.hub.seq, paused: false, closed: false };
    this.#streams.add(s);
    sink.once('close', () => {
      s.closed = true;
      this.#streams.delete(s);
    });
  }

  #flush(s: Stream): void {
    if (s.closed) return;
    if (s.paused) {
      // A client that stopped reading and has fallen out of the buffer will never catch up.
      if (this.hub.since(s.last, 0).reset) this.#close(s, true);
      return;
    }
    for (;;) {
      const page = this.hub.since(s.last);
      if (page.reset) {
        s.sink.write('event: reset\ndata: {}\n\n');
        this.#close(s);
        return;
      }
      if (page.events.length === 0) return;
      let ok = true;
      for (const e of page.events) ok = s.sink.write(`id: ${e.seq}\nevent: ${e.event}\ndata: ${e.json}\n\n`) && ok;
      s.last = page.seq;
      if (s.sink.writableLength > this.limits.maxQueuedBytes) {
        this.#close(s, true);
        return;
      }
      if (!ok) {
        s.paused = true;
        s.sink.once('drain', () => {
          s.paused = false;
          this.#flush(s);
        });
        return;
      }
      if (!page.more) return;
    }
  }

  /** Ends a stream; `hard` drops what it has queued (a client that does not read). */
  #close(s: Stream, hard = false): void {
    s.closed = true;
    this.#streams.delete(s);
    if (hard) s.sink.destroy();
    else s.sink.end();
  }

  /** Stops following the hub and ends every stream. */
  close(): void {
    this.#off();
    for (const s of [...this.#streams]) this.#close(s);
  }
}
