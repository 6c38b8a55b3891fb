/**
 * The direct fallback of server-checked fencing (docs/spec.md §7 Election, terms and fencing,
 * "Direct fallback"): while the beat stream has no leader (its server answers "no responders":
 * nobody serves the stream's subject; or says it has no leader; never a refusal), a leader whose
 * lease a quorum write holds (the write was sent less than TTL − margin ago, so nobody else can
 * hold the lease) publishes its slots straight onto the beat subject, as `--beat-fencing sender`
 * does. On the KV-outage grace the lease is not held that way, so a leader cut off from the
 * majority never falls back; and the write that holds it must have been sent after the first
 * answer that the stream has no leader, so a leader whose host is cut off just as the stream
 * moves (a step-down, a kill) never sends a frame into a route the network holds: its next
 * renewal fails. A timeout is no evidence (as for the lease): the stream's leader may
 * sit behind a route the network holds, and frames sent directly into that route would reach the
 * other side after the heal. Every {@link PROBE_EVERY_MS} the writer sends the stream a write
 * its leader must refuse: "no responders" again keeps the fallback for {@link EVIDENCE_MS}, a
 * refusal (a leader) sends the writer back to fenced writes, silence ends the fallback.
 */
import type { Clock, TimerHandle } from '@backbeat/core';
import type { DirectSink } from './beat-sink.js';

/** How often a writer in fallback asks the beat stream whether it has a leader again. */
export const PROBE_EVERY_MS = 100;
/**
 * How long one answer "the beat stream has no leader" lets frames go out directly, from the send
 * time of the write or probe it answered: a stream whose leader stops answering (a route the
 * network holds) ends the fallback this soon (docs/spec.md §7 Election, terms and fencing, "Direct fallback").
 */
export const EVIDENCE_MS = 300;

/**
 * The term whose lease a quorum write holds at `now`, a write sent after `sentAfter` (ms; any
 * when omitted), or 0 (the shared fence).
 */
export type QuorumTerm = (now: number, sentAfter?: number) => number;

/** What a probe learned: the stream has no leader, it has one (and the writer knows its last sequence), or nothing. */
export type ProbeAnswer = 'no-leader' | 'leader' | 'unknown';

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
  #on: { term: number; since: number; frames: number; evidenceAt: number } | undefined;
  /** The send time of the first failed write that said the stream has no leader, since the last stored one. */
  #unavailableSince: number | undefined;
  /** When the fallback was last left: a failure of a write sent before that is old news. */
  #leftAt = -Infinity;
  #timer: TimerHandle | undefined;
  #probing = false;

  constructor(
    private readonly direct: DirectSink,
    private readonly clock: Clock,
    /** The term whose lease a quorum write holds at `now` (sent after `sentAfter`), or 0. */
    private readonly quorumTerm: QuorumTerm,
    /** Asks the beat stream whether it has a leader (a write its leader must refuse). */
    private readonly probe: (term: number) => Promise<ProbeAnswer>,
    private readonly onEvent: (e: FallbackEvent) => void,
  ) {}

  /** The term in fallback, or 0. */
  get term(): number {
    return this.#on?.term ?? 0;
  }

  /**
   * True while `term` publishes directly at `now`: its lease held by a quorum write and a fresh
   * answer that the stream has no leader. Otherwise a fallback ends here (the slot goes the
   * fenced way).
   */
  active(term: number, now: number): boolean {
    const on = this.#on;
    if (!on) return false;
    if (on.term !== term) this.leave(`term ${term} writes now`);
    else if (this.quorumTerm(now) !== term) this.leave('the lease is no longer held by a quorum write');
    else if (now - on.evidenceAt >= EVIDENCE_MS) this.leave('no fresh answer that the beat stream has no leader');
    else return true;
    return false;
  }

  /**
   * A fenced write of `term` sent at `sentAt` failed with `err`: true when the writer is (now) in
   * fallback for `term`, false when the failure does not allow it (a refusal, a timeout, another
   * error, the lease not held by a quorum write, an answer too old, a write older than the last
   * return to fenced writes).
   */
  failed(term: number, err: unknown, sentAt: number): boolean {
    const now = this.clock.now();
    const on = this.#on;
    if (on?.term === term) {
      if (streamUnavailable(err)) on.evidenceAt = Math.max(on.evidenceAt, sentAt);
      return this.active(term, now);
    }
    if (sentAt < this.#leftAt || now - sentAt >= EVIDENCE_MS || !streamUnavailable(err)) return false;
    const since = Math.min(this.#unavailableSince ?? sentAt, sentAt);
    this.#unavailableSince = since;
    // A renewal sent after the stream lost its leader reached the lease's quorum: this side has the majority.
    if (this.quorumTerm(now, since) !== term) return false;
    if (on) this.leave(`term ${term} writes now`);
    this.#on = { term, since: now, frames: 0, evidenceAt: sentAt };
    this.onEvent({ type: 'entered', term, reason: (err as Error).message });
    this.#arm(term);
    return true;
  }

  /** A fenced write was stored: the stream has a leader (a later "no leader" starts a new wait for a renewal). */
  stored(): void {
    this.#unavailableSince = undefined;
  }

  /** Sends one slot straight onto the beat subject (the caller checked {@link active}). */
  send(term: number, beat: Uint8Array, legacy: Uint8Array | undefined): void {
    this.direct.send(term, beat, legacy);
    this.#on!.frames++;
    this.onEvent({ type: 'frame' });
  }

  /** Back to fenced writes (the stream answers, no fresh answer, no quorum hold, a new term, a reset). */
  leave(why: string): void {
    const on = this.#on;
    if (!on) return;
    this.#on = undefined;
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#leftAt = this.clock.now();
    this.#unavailableSince = undefined;
    this.onEvent({ type: 'left', term: on.term, frames: on.frames, ms: this.#leftAt - on.since, why });
  }

  /** Probes the stream every {@link PROBE_EVERY_MS} while in fallback (one probe in flight). */
  #arm(term: number): void {
    this.#timer = this.clock.setTimeout(() => {
      if (!this.active(term, this.clock.now())) return; // ended (no quorum hold, no fresh answer)
      this.#arm(term);
      if (this.#probing) return;
      this.#probing = true;
      const sentAt = this.clock.now();
      this.probe(term).then(
        (answer) => {
          this.#probing = false;
          const on = this.#on;
          if (on?.term !== term) return;
          if (answer === 'no-leader') on.evidenceAt = Math.max(on.evidenceAt, sentAt);
          else if (answer === 'leader') this.leave('the beat stream answers again');
        },
        () => (this.#probing = false),
      );
    }, PROBE_EVERY_MS);
  }
}
