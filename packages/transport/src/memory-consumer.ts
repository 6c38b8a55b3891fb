/**
 * In-process durable consumers with the semantics of a JetStream pull consumer with explicit
 * ack (or AckAll: an ack settles every message delivered before it too): a cursor that survives the consumers attached
 * to it, messages pending until acked, redelivery after ackWait or a nak, max deliveries, and max ack pending. Several
 * consumers attached to one durable share its messages, each handling one at a time.
 */
import type { Clock, TimerHandle } from '@backbeat/core';
import type { ConsumeOptions, DurableMsg, StoredMsg } from './stream-types.js';

/** The part of a stream a durable reads from (see MemoryStream). */
interface StreamView {
  readonly lastSeq: number;
  /** Its timers drive ack waits and nak delays. */
  readonly clock: Clock;
  seqAtTime(time: number): number;
  countAfter(after: number, filter?: string): number;
  find(seq: number): StoredMsg | undefined;
  nextAfter(after: number, filter?: string): StoredMsg | undefined;
}

interface Pending {
  count: number;
  timer?: TimerHandle;
}

/** One consumer attached to a durable. */
interface Attachment {
  readonly handler: (msg: DurableMsg) => void | Promise<void>;
  /** False while its client is disconnected: it gets nothing, and its acks are lost. */
  readonly live: () => boolean;
  readonly reportError: (err: unknown) => void;
  active: boolean;
  /** Set while a handler runs; resolves when it returns. */
  busy?: Promise<void>;
}

/** A durable consumer's state, kept by its stream. */
export class MemoryDurable {
  #options: ConsumeOptions;
  /** Last stream sequence handed out for the first time. */
  #cursor: number;
  readonly #pending = new Map<number, Pending>();
  /** Sequences due for redelivery, in order. */
  readonly #due: number[] = [];
  readonly #attached = new Set<Attachment>();
  readonly #stream: StreamView;

  constructor(stream: StreamView, options: ConsumeOptions) {
    this.#stream = stream;
    this.#options = options;
    this.#cursor =
      options.startTime !== undefined
        ? stream.seqAtTime(options.startTime) - 1
        : options.deliverPolicy === 'new'
          ? stream.lastSeq
          : 0;
  }

  /**
   * Takes new ack wait, limits and filter (the start policy of an existing durable stays).
   * Another ack policy re-creates it after its acknowledged floor, as on a server: every
   * message after the floor is delivered again.
   */
  update(options: ConsumeOptions): void {
    if ((options.ackPolicy ?? 'explicit') !== (this.#options.ackPolicy ?? 'explicit')) {
      let floor = this.#cursor;
      for (const seq of this.#pending.keys()) floor = Math.min(floor, seq - 1);
      this.#cursor = floor;
      for (const p of this.#pending.values()) this.#clear(p.timer);
      this.#pending.clear();
      this.#due.length = 0;
    }
    this.#options = options;
  }

  /** Pending counts, as a server reports them. */
  counts(): { pending: number; ackPending: number; waiting: number; deliveredSeq: number } {
    return {
      deliveredSeq: this.#cursor,
      pending: this.#stream.countAfter(this.#cursor, this.#options.filterSubject),
      ackPending: this.#pending.size,
      waiting: [...this.#attached].filter((a) => a.active).length,
    };
  }

  /** The durable was deleted: its consumers get nothing more. */
  detachAll(): void {
    for (const a of this.#attached) a.active = false;
    this.#attached.clear();
  }

  /** Attaches a consumer; its `stop` waits for the message in hand. */
  attach(
    handler: Attachment['handler'],
    live: () => boolean,
    reportError: (err: unknown) => void,
  ): { stop(): Promise<void> } {
    const a: Attachment = { handler, live, reportError, active: true };
    this.#attached.add(a);
    setImmediate(() => this.pump());
    return {
      stop: async () => {
        a.active = false;
        this.#attached.delete(a);
        await a.busy;
      },
    };
  }

  /** Hands messages to idle, live consumers while there are any to hand out. */
  pump(): void {
    for (const a of this.#attached) {
      if (a.busy || !a.active || !a.live()) continue;
      const m = this.#next();
      if (!m) return;
      this.#dispatch(a, m);
    }
  }

  #next(): StoredMsg | undefined {
    while (this.#due.length > 0) {
      const seq = this.#due.shift()!;
      if (!this.#pending.has(seq)) continue;
      const m = this.#stream.find(seq);
      if (m) return m;
      this.#pending.delete(seq); // dropped by the stream's limits meanwhile
    }
    if (this.#pending.size >= (this.#options.maxAckPending ?? 1000)) return undefined;
    const m = this.#stream.nextAfter(this.#cursor, this.#options.filterSubject);
    if (m) this.#cursor = m.seq;
    return m;
  }

  #dispatch(a: Attachment, m: StoredMsg): void {
    const p = this.#pending.get(m.seq) ?? { count: 0 };
    p.count += 1;
    this.#clear(p.timer);
    p.timer = this.#timer(m.seq, this.#options.ackWaitMs ?? 30_000);
    this.#pending.set(m.seq, p);
    const msg = this.#toDurableMsg(a, m, p.count);
    a.busy = new Promise<void>((resolve) => {
      setImmediate(async () => {
        try {
          await a.handler(msg);
        } catch (err) {
          msg.nak();
          a.reportError(err);
        } finally {
          a.busy = undefined;
          resolve();
          this.pump();
        }
      });
    });
  }

  #timer(seq: number, ms: number): TimerHandle {
    return this.#stream.clock.setTimeout(() => this.#redeliver(seq), ms);
  }

  #clear(timer: TimerHandle | undefined): void {
    if (timer !== undefined) this.#stream.clock.clearTimeout(timer);
  }

  /** Ack wait passed or a nak delay ended: deliver again unless max deliveries is reached. */
  #redeliver(seq: number): void {
    const p = this.#pending.get(seq);
    if (!p) return;
    const maxDeliver = this.#options.maxDeliver ?? -1;
    if (maxDeliver > 0 && p.count >= maxDeliver) {
      this.#pending.delete(seq);
      this.pump();
      return;
    }
    this.#due.push(seq);
    this.pump();
  }

  #toDurableMsg(a: Attachment, m: StoredMsg, count: number): DurableMsg {
    let settled = false;
    /** The pending entry, unless this delivery was settled already or the ack is lost. */
    const settle = (): Pending | undefined => {
      if (settled || !a.live()) return undefined;
      settled = true;
      const p = this.#pending.get(m.seq);
      this.#clear(p?.timer);
      return p;
    };
    const done = () => {
      if (settle()) this.#pending.delete(m.seq);
      setImmediate(() => this.pump());
    };
    // AckAll: this message and every one delivered before it.
    const ackAll = () => {
      if (!a.live()) return;
      settled = true;
      for (const [seq, p] of this.#pending) {
        if (seq > m.seq) continue;
        this.#clear(p.timer);
        this.#pending.delete(seq);
      }
      setImmediate(() => this.pump());
    };
    return Object.freeze({
      subject: m.subject,
      data: m.data.slice(),
      headers: m.headers,
      seq: m.seq,
      time: m.time,
      deliveryCount: count,
      redelivered: count > 1,
      ack: this.#options.ackPolicy === 'all' ? ackAll : done,
      term: done,
      nak: (delayMs = 0) => {
        const p = settle();
        if (p) p.timer = this.#timer(m.seq, delayMs);
      },
    });
  }
}
