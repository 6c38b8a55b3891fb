/**
 * Server-checked fencing of BeatFrames (docs/spec.md §7 Election, terms and fencing): each frame
 * is written into the beat stream with the writer's last acknowledged sequence as
 * `Nats-Expected-Last-Subject-Sequence`; the stream republishes what it stores to the beat
 * subject. A new term's first write takes the stream's last sequence. A write the server
 * refuses (wrong last sequence) means another writer: when the stream's last frame carries a
 * newer term, this writer stops at once and reports it; when it carries this term or an older
 * one (an acknowledgement this writer missed, or a deposed leader still inside its lease),
 * the writer takes that sequence and goes on. One write is in flight at a time: a slot whose
 * predecessor is not acknowledged yet is held back, and an acknowledgement that does not come
 * within the bound is given up (the server still refuses the write if anyone wrote since). A
 * write that fails because the stream does not answer (not a refusal) may put the writer in the
 * direct fallback (direct-fallback.ts) while a quorum write holds its lease.
 */
import { encodeTermHeader, TERM_HEADER } from '@backbeat/contracts';
import type { Clock } from '@backbeat/core';
import type { NatsBus } from '@backbeat/transport';
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { DirectSink, type BeatFencing, type BeatSink, type SinkHold } from './beat-sink.js';
import {
  beatStreamManager,
  beatStreamNames,
  ensureBeatStream,
  readLastBeat,
  repairBeatStream,
  type BeatStreamNames,
} from './beat-stream.js';
import {
  DirectFallback,
  streamUnavailable,
  type FallbackEvent,
  type ProbeAnswer,
  type QuorumTerm,
} from './direct-fallback.js';

/** A write unacknowledged this long is given up: the next slot may be written. */
export const ACK_BOUND_MS = 250;
/** How long a write's acknowledgement is awaited at most (then it is dropped). */
const ACK_TIMEOUT_MS = 1000;
/**
 * How long a read of the stream's last frame (and the background checks) may take: a copy that
 * does not answer by then is likely cut off; the next slot asks again, maybe another copy.
 */
const READ_TIMEOUT_MS = 300;
/** A stream that does not answer is looked at (and made again when gone) at most this often. */
const REPAIR_EVERY_MS = 2000;
/** The same error is reported at most once in this long. */
const ERROR_REPEAT_MS = 5000;
/** JetStream API error: the stream's last sequence is not the one the write expected. */
const WRONG_LAST_SEQUENCE = 10071;
/** A probe expects this last sequence, which no stream reaches: its leader always refuses it. */
const NO_SUCH_SEQUENCE = Number.MAX_SAFE_INTEGER;
const EMPTY = new Uint8Array(0);

/** What the sink reports. */
export interface ServerFencedSinkEvents {
  /** The server refused `term`'s write and the stream's last frame is of `newerTerm`: this writer stopped. */
  readonly onRefused: (term: number, newerTerm: number) => void;
  /** A frame sent was not stored (refused, no stream leader, no answer): it reached nobody. */
  readonly onNotStored: () => void;
  /** The stream stored a frame of `term` whose write was sent at `sentAt`. */
  readonly onStored: (term: number, sentAt: number) => void;
  /** Something went wrong that is not a refusal (no stream leader, a timeout); one line. */
  readonly onError: (message: string) => void;
  /** The direct fallback: entered, a frame sent directly, left. */
  readonly onFallback: (e: FallbackEvent) => void;
}

/** One line for a failed write: "no responders" means the stream has no leader (an election, or no quorum). */
function describe(err: unknown): string {
  const e = err as Error;
  if (e.name === 'JetStreamNotEnabled')
    return 'the beat stream does not answer (no stream leader: an election, or no quorum on this side)';
  return e.message;
}

/** The frames of one writer into the beat stream. */
export class ServerFencedSink implements BeatSink {
  readonly fencing: BeatFencing = 'server';
  readonly #names: BeatStreamNames;
  /** The last sequence on the beat subject this writer knows, and the term it knows it for. */
  #known: { term: number; seq: number } | undefined;
  #syncing = 0;
  #inflight: { sentAt: number } | undefined;
  /** Terms up to this one never write again: the server refused them for a newer term. */
  #refusedUpTo = 0;
  #header: { term: number; text: string } = { term: 0, text: '' };
  #lastError = { message: '', at: -Infinity };
  #repairAt = -Infinity;
  /** Fenced writes sent so far (a failed write is sent directly only when it is still the last). */
  #sends = 0;
  readonly #fallback: DirectFallback;

  private constructor(
    bus: NatsBus,
    private readonly replicas: number,
    private readonly js: JetStreamClient,
    /** For the reads of the last frame (short timeout). */
    private readonly jsm: JetStreamManager,
    /** For the stream's repair (the API's usual timeout). */
    private readonly admin: JetStreamManager,
    private readonly clusterId: string,
    private readonly clock: Clock,
    quorumTerm: QuorumTerm,
    private readonly events: ServerFencedSinkEvents,
  ) {
    this.#names = beatStreamNames(clusterId);
    const direct = new DirectSink(bus, clusterId);
    this.#fallback = new DirectFallback(direct, clock, quorumTerm, (t) => this.#probe(t), events.onFallback);
  }

  /**
   * Creates (or updates) the cluster's beat stream with `replicas` copies and returns a writer.
   * `quorumTerm`: the term whose lease a quorum write holds at `now`, or 0 (the direct fallback's
   * condition; the shared fence).
   * @throws the server's error when the stream cannot be made
   */
  static async open(
    bus: NatsBus,
    clusterId: string,
    replicas: number,
    clock: Clock,
    quorumTerm: QuorumTerm,
    events: ServerFencedSinkEvents,
  ): Promise<ServerFencedSink> {
    const jsm = await beatStreamManager(bus, ACK_TIMEOUT_MS * 5);
    await ensureBeatStream(jsm, clusterId, replicas);
    const api = await beatStreamManager(bus, READ_TIMEOUT_MS);
    return new ServerFencedSink(
      bus,
      replicas,
      jetstream(bus.nc, { timeout: ACK_TIMEOUT_MS }),
      api,
      jsm,
      clusterId,
      clock,
      quorumTerm,
      events,
    );
  }

  prepare(term: number): void {
    if (this.#fallback.term === term) return; // the fallback's probe reads the last sequence
    if (term > this.#refusedUpTo && this.#known?.term !== term && this.#syncing !== term) void this.#sync(term);
  }

  hold(term: number, now: number): SinkHold | null {
    if (term <= this.#refusedUpTo) return 'refused';
    if (this.#fallback.active(term, now)) return null;
    if (this.#known?.term !== term) {
      this.prepare(term);
      return 'syncing';
    }
    if (this.#inflight) {
      if (now - this.#inflight.sentAt < ACK_BOUND_MS) return 'unacked';
      this.#inflight = undefined; // given up; a late acknowledgement still moves #known
    }
    return null;
  }

  send(term: number, beat: Uint8Array, legacy: Uint8Array | undefined): void {
    if (this.#fallback.active(term, this.clock.now())) return this.#fallback.send(term, beat, legacy);
    const known = this.#known!;
    const write = { sentAt: this.clock.now(), n: ++this.#sends, stored: false };
    this.#inflight = write;
    const h = this.#headers(term);
    this.js
      .publish(this.#names.beatIn, beat, { headers: h, expect: { lastSubjectSequence: known.seq } })
      .then((ack) => {
        write.stored = true;
        this.#fallback.stored();
        this.events.onStored(term, write.sentAt);
        if (this.#known?.term === term && ack.seq > this.#known.seq) this.#known = { term, seq: ack.seq };
        // The legacy message is stored only while this writer's frame is the stream's last message.
        if (legacy)
          return this.js.publish(this.#names.controlIn, legacy, {
            headers: this.#headers(term),
            expect: { lastSequence: ack.seq },
          });
        return undefined;
      })
      .then(
        () => {
          if (this.#inflight === write) this.#inflight = undefined;
        },
        (err: unknown) => {
          if (this.#inflight === write) this.#inflight = undefined;
          if ((err as { code?: unknown }).code === WRONG_LAST_SEQUENCE) {
            // Someone else wrote: hold the next slots until the stream says who.
            this.events.onNotStored();
            if (this.#known?.term === term) this.#known = undefined;
            void this.#sync(term);
          } else if (!write.stored && this.#fallback.failed(term, err, write.sentAt)) {
            // The stream has no leader and a quorum write holds the lease: the first fenced write
            // after the fallback reads the stream's last sequence again. This slot goes out
            // directly when no later one was sent and it is still on time.
            this.#known = undefined;
            if (write.n === this.#sends && this.clock.now() - write.sentAt < ACK_BOUND_MS) {
              this.#fallback.send(term, beat, legacy);
            } else this.events.onNotStored();
          } else {
            this.events.onNotStored();
            this.#error(`a BeatFrame was not stored in the beat stream: ${describe(err)}`);
            this.#repair();
          }
        },
      );
  }

  reset(): void {
    this.#inflight = undefined;
    this.#known = undefined;
    this.#fallback.leave('this node stopped leading');
  }

  /**
   * The fallback asks whether the stream has a leader again: a write that expects a sequence no
   * stream reaches, so its leader always refuses it and nothing is stored. "No responders" (no
   * leader) keeps the fallback; after a refusal the stream's last frame is read (as a new term's
   * first write does) and the writer goes back to fenced writes; anything else tells nothing.
   */
  async #probe(term: number): Promise<ProbeAnswer> {
    try {
      await this.js.publish(this.#names.beatIn, EMPTY, {
        headers: this.#headers(term),
        expect: { lastSubjectSequence: NO_SUCH_SEQUENCE },
        timeout: READ_TIMEOUT_MS,
      });
    } catch (err) {
      if (streamUnavailable(err)) {
        this.#repair(); // a stream that is gone answers "no responders" too: make it again
        return 'no-leader';
      }
      if ((err as { code?: unknown }).code !== WRONG_LAST_SEQUENCE) return 'unknown';
    }
    return (await this.#sync(term)) === 'failed' ? 'unknown' : 'leader';
  }

  /** Makes the stream again when it is gone (rate-limited; the next slots find out whether it worked). */
  #repair(): void {
    const now = this.clock.now();
    if (now - this.#repairAt < REPAIR_EVERY_MS) return;
    this.#repairAt = now;
    repairBeatStream(this.admin, this.clusterId, this.replicas).then(
      (made) => made && this.events.onError('the beat stream was gone: made it again'),
      () => {}, // no answer: an election, or no quorum on this side; the writes say so
    );
  }

  /** Reports an error, the same text at most once per {@link ERROR_REPEAT_MS}. */
  #error(message: string): void {
    const now = this.clock.now();
    if (message === this.#lastError.message && now - this.#lastError.at < ERROR_REPEAT_MS) return;
    this.#lastError = { message, at: now };
    this.events.onError(message);
  }

  #headers(term: number): ReturnType<typeof natsHeaders> {
    if (this.#header.term !== term) this.#header = { term, text: encodeTermHeader(term) };
    const h = natsHeaders();
    h.set(TERM_HEADER, this.#header.text);
    return h;
  }

  /** Learns the stream's last frame; stops this writer when it is of a newer term. */
  async #sync(term: number): Promise<'known' | 'refused' | 'failed'> {
    if (this.#syncing === term) return 'failed'; // one read at a time
    this.#syncing = term;
    try {
      const last = await readLastBeat(this.jsm, this.clusterId);
      if (last.term > term) {
        if (term > this.#refusedUpTo) {
          this.#refusedUpTo = term;
          this.#known = undefined;
          this.#inflight = undefined;
          this.events.onRefused(term, last.term);
        }
        return 'refused';
      }
      if (term > this.#refusedUpTo) this.#known = { term, seq: last.seq };
      return 'known';
    } catch (err) {
      this.#error(`could not read the beat stream's last frame: ${(err as Error).message}`);
      this.#repair();
      return 'failed';
    } finally {
      if (this.#syncing === term) this.#syncing = 0;
    }
  }
}
