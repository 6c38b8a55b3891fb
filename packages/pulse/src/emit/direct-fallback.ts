/**
 * The direct fallback of server-checked fencing (docs/spec.md §7 Election, terms and fencing,
 * "Direct fallback"): while the beat stream has no leader (its server answers "no responders":
 * nobody serves the stream's subject; or says it has no leader; never a refusal), a leader whose
 * lease a quorum write holds (the write was sent less than TTL − margin ago, so nobody else can
 * hold the lease) publishes its slots straight onto the beat subject, as `--beat-fencing sender`
 * does. On the KV-outage grace the lease is not held that way, so a leader cut off from the
 * majority never falls back. A timeout is no evidence (as for the lease): the stream's leader may
 * sit behind a route the network holds, and frames sent directly into that route would reach the
 * other side after the heal. The writer asks the stream every {@link PROBE_EVERY_MS} whether it
 * answers again and then goes back to fenced writes.
 */
import type { Clock } from '@backbeat/core';
import type { DirectSink } from './beat-sink.js';

/** How often a writer in fallback asks whether the beat stream answers again. */
export const PROBE_EVERY_MS = 200;

/** What the fallback reports: each frame sent directly, and one event at entering and at leaving. */
export type FallbackEvent =
  | { readonly type: 'entered'; readonly term: number; readonly reason: string }
  | { readonly type: 'frame' }
  | {
      readonly type: 'left';
      readonly term: number;
      /** Frames sent directly meanwhile. */
      readonly frames: number;
      readonly ms: number;
      readonly why: string;
    };

/**
 * True when a failed write says the beat stream has no leader now: nobody serves the stream's
 * subject ("no responders": the leader's server is gone or it stepped down), or the server says
 * the stream or its cluster has no leader (503). A timeout, a refusal (wrong last sequence) and
 * anything else are false.
 */
export function streamUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; message?: unknown; status?: unknown; cause?: { name?: unknown } };
  if (e.name === 'JetStreamNotEnabled' || e.name === 'NoResponders' || e.cause?.name === 'NoResponders') return true;
  if (e.name === 'JetStreamApiError' && e.status === 503) return true;
  return typeof e.message === 'string' && /no responders|no (stream )?leader/i.test(e.message);
}

/** The fallback state of one writer. */
export class DirectFallback {
  #on: { term: number; since: number; frames: number } | undefined;
  /** When the fallback was last left: a failure of a write sent before that is old news. */
  #leftAt = -Infinity;
  #probeAt = -Infinity;
  #probing = false;

  constructor(
    private readonly direct: DirectSink,
    private readonly clock: Clock,
    /** The term whose lease a quorum write holds at `now`, or 0 (the shared fence). */
    private readonly quorumTerm: (now: number) => number,
    /** Whether the beat stream answers again (and the writer knows its last sequence). */
    private readonly probe: (term: number) => Promise<boolean>,
    private readonly onEvent: (e: FallbackEvent) => void,
  ) {}

  /** The term in fallback, or 0. */
  get term(): number {
    return this.#on?.term ?? 0;
  }

  /**
   * True while `term` publishes directly at `now`. A fallback of another term, or one whose lease
   * is no longer held by a quorum write, ends here (the slot goes the fenced way).
   */
  active(term: number, now: number): boolean {
    const on = this.#on;
    if (!on) return false;
    if (on.term === term && this.quorumTerm(now) === term) return true;
    this.leave(on.term === term ? 'the lease is no longer held by a quorum write' : `term ${term} writes now`);
    return false;
  }

  /**
   * A fenced write of `term` sent at `sentAt` failed with `err`: true when the writer is (now) in
   * fallback for `term`, false when the failure does not allow it (a refusal, another error, the
   * lease not held by a quorum write, a write older than the last return to fenced writes).
   */
  failed(term: number, err: unknown, sentAt: number): boolean {
    const now = this.clock.now();
    if (this.#on?.term === term) return this.active(term, now);
    if (sentAt < this.#leftAt || !streamUnavailable(err) || this.quorumTerm(now) !== term) return false;
    if (this.#on) this.leave(`term ${term} writes now`);
    this.#on = { term, since: now, frames: 0 };
    this.onEvent({ type: 'entered', term, reason: (err as Error).message });
    return true;
  }

  /** Sends one slot straight onto the beat subject (the caller checked {@link active}) and probes the stream. */
  send(term: number, beat: Uint8Array, legacy: Uint8Array | undefined): void {
    this.direct.send(term, beat, legacy);
    this.#on!.frames++;
    this.onEvent({ type: 'frame' });
    this.#probe(term);
  }

  /** Back to fenced writes (the stream answers, the lease is not held by a quorum write, a new term, a reset). */
  leave(why: string): void {
    const on = this.#on;
    if (!on) return;
    this.#on = undefined;
    this.#leftAt = this.clock.now();
    this.onEvent({ type: 'left', term: on.term, frames: on.frames, ms: this.#leftAt - on.since, why });
  }

  #probe(term: number): void {
    const now = this.clock.now();
    if (this.#probing || now - this.#probeAt < PROBE_EVERY_MS) return;
    this.#probing = true;
    this.#probeAt = now;
    this.probe(term).then(
      (answers) => {
        this.#probing = false;
        if (answers && this.#on?.term === term) this.leave('the beat stream answers again');
      },
      () => (this.#probing = false),
    );
  }
}
