/**
 * Sends status claims (BACKBEAT-REQ-041): JetStream publish with acknowledgement and a
 * Nats-Msg-Id (a retry is stored once), and a bounded queue while disconnected (SPEC 12: a
 * core publish made while disconnected is silently lost; a claim must not be).
 */
import { silentLogger, type Logger } from '@backbeat/core';
import { NotConnectedError, type Bus, type Headers } from '@backbeat/transport';
import { ClaimQueueFullError } from './errors.js';
import type { SdkMetrics } from './metrics.js';

interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly msgId: string;
  resolve(): void;
  reject(err: Error): void;
}

/** Publishes claims in order, waiting for the connection when it is down. */
export class ClaimSender {
  #queue: Outgoing[] = [];
  #draining = false;
  #closed = false;

  constructor(
    private readonly bus: Bus,
    private readonly metrics: SdkMetrics,
    private readonly maxQueued: number,
    private readonly log: Logger = silentLogger,
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
      this.#queue.push({ subject, data, headers, msgId, resolve, reject });
      this.metrics.snapshot.claimsQueued = this.#queue.length;
      void this.drain();
    });
  }

  /** Publishes what is queued, in order; stops at the first failure and retries later. */
  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length > 0 && this.bus.status().connected) {
        const next = this.#queue[0]!;
        try {
          await this.bus.publishDurable(next.subject, next.data, { headers: next.headers, msgId: next.msgId, timeoutMs: 5000 });
        } catch (err) {
          if (this.#closed) break;
          this.log.warn({ err: (err as Error).message, queued: this.#queue.length }, 'status claim not acknowledged; will retry');
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        this.#queue.shift();
        this.metrics.snapshot.claimsQueued = this.#queue.length;
        this.metrics.emitted();
        next.resolve();
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Waits until the queue is empty or `timeoutMs` passed; then rejects what is left. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline && this.bus.status().connected) {
      await this.drain();
      if (this.#queue.length > 0) await new Promise((r) => setTimeout(r, 20));
    }
    this.#closed = true;
    for (const o of this.#queue.splice(0)) {
      this.metrics.failed('stopped');
      o.reject(new NotConnectedError('emitStatusClaim: client stopped before the claim was sent'));
    }
  }
}
