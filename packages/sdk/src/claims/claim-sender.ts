/**
 * Sends status claims (BACKBEAT-REQ-041): JetStream publish with acknowledgement and a
 * Nats-Msg-Id (a retry is stored once), in order, with a bounded queue while disconnected
 * (docs/spec.md §12 Known pitfalls: a core publish made while disconnected is silently lost; a
 * claim must not be). The SDK never creates or updates the stream: reverb and the pulse own it
 * (docs/decisions/0005-agents-read-only.md).
 * - Transient failures (disconnected, timeout) are retried without limit, with backoff.
 * - Permanent ones (no stream captures the subject, permission denied, a bad subject, a full
 *   claim stream: discard policy `new`) are retried {@link PERMANENT_ATTEMPTS} times, then
 *   that claim fails with ClaimRejectedError and the queue moves on: one bad claim never
 *   blocks the others. One the stream refuses as too large fails at once. "No responders" is also
 *   what JetStream answers while a stream elects a leader after a node loss, so it counts as
 *   "no stream" only once it has lasted `noStreamGraceMs`.
 * Waits use the injected Clock, so the retry logic runs on FakeClock in tests.
 */
import { silentLogger, type Clock, type Logger } from '@backbeat/core';
import {
  InvalidSubjectError,
  JetStreamNotFoundError,
  NoRespondersError,
  NotConnectedError,
  StreamRefusedError,
  type Bus,
  type Headers,
} from '@backbeat/transport';
import { ClaimQueueFullError, ClaimRejectedError, type ClaimFailure } from '../errors.js';
import type { SdkMetrics } from '../metrics.js';

/** Attempts of a claim that fails permanently before it is rejected. */
export const PERMANENT_ATTEMPTS = 3;
/** First retry wait, ms; it doubles up to {@link MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 100;
/** Longest retry wait, ms. */
export const MAX_BACKOFF_MS = 5000;
/** How long "no responders" may last before a claim counts it as "no stream", ms. */
export const DEFAULT_NO_STREAM_GRACE_MS = 15_000;
/** Acknowledgement timeout of one publish, ms. */
const ACK_TIMEOUT_MS = 5000;

interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly msgId: string;
  attempts: number;
  permanent: number;
  /** When "no responders" was first answered for this claim (clock.now()). */
  noRespondersSince: number | undefined;
  resolve(): void;
  reject(err: Error): void;
}

/** Why a publish failed for good, or null when retrying may help. */
export function permanentCause(err: unknown): ClaimFailure | null {
  if (err instanceof StreamRefusedError) return err.context.reason === 'full' ? 'stream_full' : 'too_large';
  if (err instanceof NoRespondersError || err instanceof JetStreamNotFoundError) return 'no_stream';
  if (err instanceof InvalidSubjectError) return 'invalid_subject';
  if (err instanceof Error && /permission/i.test(err.message)) return 'permission';
  return null;
}

/** Publishes claims in order, waiting for the connection when it is down. */
export class ClaimSender {
  #queue: Outgoing[] = [];
  #draining = false;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly metrics: SdkMetrics,
    private readonly maxQueued: number,
    private readonly clock: Clock,
    private readonly log: Logger = silentLogger,
    private readonly noStreamGraceMs: number = DEFAULT_NO_STREAM_GRACE_MS,
  ) {}

  /** Claims waiting to be acknowledged. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a claim; resolves when the stream acknowledged it. */
  send(subject: string, data: Uint8Array, headers: Headers, msgId: string): Promise<void> {
    if (this.#closed) return Promise.reject(new NotConnectedError('emitStatusClaim'));
    if (this.#queue.length >= this.maxQueued) {
      this.metrics.failed('queue_full');
      return Promise.reject(new ClaimQueueFullError(this.maxQueued));
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({
        subject,
        data,
        headers,
        msgId,
        attempts: 0,
        permanent: 0,
        noRespondersSince: undefined,
        resolve,
        reject,
      });
      this.metrics.snapshot.claimsQueued = this.#queue.length;
      void this.drain();
    });
  }

  /** Ends a retry wait at once and publishes: after a reconnect (the client calls it). */
  retryNow(): void {
    this.#wake?.();
    void this.drain();
  }

  /** Publishes what is queued, in order. */
  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length > 0 && !this.#closed && this.bus.status().connected) {
        const next = this.#queue[0]!;
        try {
          next.attempts++;
          await this.bus.publishDurable(next.subject, next.data, {
            headers: next.headers,
            msgId: next.msgId,
            timeoutMs: ACK_TIMEOUT_MS,
          });
        } catch (err) {
          if (this.#closed) break;
          const cause = this.bus.status().connected ? permanentCause(err) : null;
          if (err instanceof NoRespondersError) next.noRespondersSince ??= this.clock.now();
          else next.noRespondersSince = undefined;
          const settled =
            next.noRespondersSince === undefined || this.clock.now() - next.noRespondersSince >= this.noStreamGraceMs;
          // A claim the stream refused as too large is refused again: it fails at the first answer.
          if (cause && (++next.permanent >= PERMANENT_ATTEMPTS || cause === 'too_large') && settled) {
            this.#shift();
            this.metrics.failed(cause);
            next.reject(new ClaimRejectedError(next.subject, cause, next.permanent, err));
            continue;
          }
          const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (next.attempts - 1));
          this.log.warn(
            { err: (err as Error).message, queued: this.#queue.length, retryInMs: wait },
            'status claim not acknowledged; will retry',
          );
          await this.#sleep(wait);
          continue;
        }
        this.#shift();
        this.metrics.emitted();
        next.resolve();
      }
    } finally {
      this.#draining = false;
    }
  }

  #shift(): void {
    this.#queue.shift();
    this.metrics.snapshot.claimsQueued = this.#queue.length;
  }

  /** Waits `ms` on the clock, or until drain() or close() is called. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.clock.setTimeout(() => finish(), ms);
      const finish = () => {
        this.clock.clearTimeout(t);
        if (this.#wake === finish) this.#wake = undefined;
        resolve();
      };
      this.#wake = finish;
    });
  }

  /** Waits until the queue is empty or `timeoutMs` passed; then rejects what is left. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    while (this.#queue.length > 0 && this.clock.now() < deadline && this.bus.status().connected) {
      await this.drain();
      if (this.#queue.length > 0) await this.#sleep(Math.min(20, Math.max(0, deadline - this.clock.now())));
    }
    this.#closed = true;
    this.#wake?.();
    for (const o of this.#queue.splice(0)) {
      this.metrics.failed('stopped');
      o.reject(new NotConnectedError('emitStatusClaim: client stopped before the claim was sent'));
    }
    this.metrics.snapshot.claimsQueued = 0;
  }
}
