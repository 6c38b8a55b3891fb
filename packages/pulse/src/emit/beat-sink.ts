/**
 * Where a slot's frame goes (docs/spec.md §7 Election, terms and fencing): straight onto the beat
 * subject, fenced by the sender alone (`--beat-fencing sender`, and always on the in-memory bus),
 * or through the beat stream, whose server refuses a stale writer (`server`, see
 * server-fenced-sink.ts). The slot publisher decides whether a slot is sent; the sink sends it.
 */
import { encodeTermHeader, TERM_HEADER } from '@backbeat/contracts';
import { subjects, type Bus } from '@backbeat/transport';

/** Who checks the fencing token of a frame: the NATS server (the beat stream) or the sender alone. */
export type BeatFencing = 'server' | 'sender';

/** Why a sink holds a slot back. */
export type SinkHold =
  /** The previous frame's acknowledgement is not in yet (one write in flight). */
  | 'unacked'
  /** The first write of a new term waits for the stream's last sequence. */
  | 'syncing'
  /** The server refused this term's write: a newer term writes the beat. */
  | 'refused';

/** A sink of slot frames. */
export interface BeatSink {
  readonly fencing: BeatFencing;
  /** A slot of `term` is armed: learn now what its write needs (the stream's last sequence). */
  prepare(term: number): void;
  /** Why a frame of `term` may not be sent at `now`, or null when it may. */
  hold(term: number, now: number): SinkHold | null;
  /**
   * Sends one slot's frame and, on the first phase of a beat, its legacy control message.
   * @throws what the connection throws at once (closed, payload too large)
   */
  send(term: number, beat: Uint8Array, legacy: Uint8Array | undefined): void;
  /** Forgets what is in flight (the node stopped leading). */
  reset(): void;
}

/** Frames straight onto the beat and control subjects: the sender's fence is the only one. */
export class DirectSink implements BeatSink {
  readonly fencing = 'sender';
  readonly #subjects: ReturnType<typeof subjects>;
  #header: { term: number; headers: Record<string, string> } = { term: 0, headers: {} };

  constructor(
    private readonly bus: Bus,
    clusterId: string,
  ) {
    this.#subjects = subjects(clusterId);
  }

  prepare(): void {}

  hold(): null {
    return null;
  }

  send(term: number, beat: Uint8Array, legacy: Uint8Array | undefined): void {
    if (this.#header.term !== term) this.#header = { term, headers: { [TERM_HEADER]: encodeTermHeader(term) } };
    const { headers } = this.#header;
    this.bus.publish(this.#subjects.beat, beat, { headers });
    if (legacy) this.bus.publish(this.#subjects.control, legacy, { headers });
  }

  reset(): void {}
}
