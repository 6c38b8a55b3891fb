/**
 * The acknowledgements of an AckAll durable (`ConsumeOptions.ackPolicy: 'all'`), coalesced:
 * acknowledging a message acknowledges every one before it, so one ack on the wire stands for
 * a run of them. The server then handles one ack per {@link ACK_ALL_BATCH} messages instead of
 * one per message, which is what caps an explicit-ack durable's rate.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { ACK_ALL_BATCH, ACK_ALL_DELAY_MS } from './stream-types.js';

/** Pending acknowledgements of one consumer. */
export class AckAllBatch {
  /** The handled message with the highest stream sequence not acknowledged yet. */
  #latest: JsMsg | undefined;
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `m` is handled: its ack, and every earlier message's, goes out with the batch (at once after close). */
  ack(m: JsMsg): void {
    if (this.#closed) {
      m.ack();
      return;
    }
    if (this.#latest === undefined || m.seq > this.#latest.seq) this.#latest = m;
    if (++this.#count >= ACK_ALL_BATCH) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), ACK_ALL_DELAY_MS).unref();
  }

  /** The consumer stopped: sends what is pending; acks of messages still in hand go out one by one. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  /** Sends the pending acknowledgement now (before a nak, and when the consumer stops). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const m = this.#latest;
    this.#latest = undefined;
    this.#count = 0;
    m?.ack();
  }
}
