/**
 * In-process JetStream streams: capture by subject, limits, Nats-Msg-Id de-duplication and
 * durable consumers with explicit ack, nak and redelivery after ackWait.
 */
import type { Consumer, ConsumeOptions, DurableMsg, Headers, ReadStreamOptions, StoredMsg, StreamConfig } from './bus.js';
import { MSG_ID_HEADER } from './bus.js';
import { subjectMatches } from './subjects.js';

interface DurableState {
  readonly options: ConsumeOptions;
  /** Last stream sequence dispatched for the first time. */
  deliveredSeq: number;
  /** Dispatched and not yet acknowledged: seq -> delivery count and redelivery timer. */
  readonly pending: Map<number, { count: number; timer?: NodeJS.Timeout }>;
  /** Sequences due for redelivery, oldest first. */
  readonly redeliver: number[];
  handler?: (msg: DurableMsg) => void | Promise<void>;
  pumping: boolean;
}

/** One stream held in memory. */
export class MemoryStream {
  config: StreamConfig;
  readonly msgs: StoredMsg[] = [];
  lastSeq = 0;
  #bytes = 0;
  #dedupe = new Map<string, { seq: number; time: number }>();
  #durables = new Map<string, DurableState>();

  constructor(config: StreamConfig) {
    this.config = config;
  }

  captures(subject: string): boolean {
    return this.config.subjects.some((p) => subjectMatches(p, subject));
  }

  /** Stores a message; returns its sequence and whether its msgId was a duplicate. */
  store(subject: string, data: Uint8Array, headers: Headers): { seq: number; duplicate: boolean } {
    const now = Date.now();
    const window = this.config.duplicateWindowMs ?? 120_000;
    for (const [id, d] of this.#dedupe) if (now - d.time >= window) this.#dedupe.delete(id);
    const msgId = headers[MSG_ID_HEADER];
    if (msgId !== undefined) {
      const seen = this.#dedupe.get(msgId);
      if (seen) return { seq: seen.seq, duplicate: true };
    }
    const seq = ++this.lastSeq;
    this.msgs.push({ subject, data: data.slice(), headers: { ...headers }, seq, time: now });
    this.#bytes += data.length;
    if (msgId !== undefined) this.#dedupe.set(msgId, { seq, time: now });
    this.#enforceLimits(now);
    for (const d of this.#durables.values()) this.#pump(d);
    return { seq, duplicate: false };
  }

  #enforceLimits(now: number): void {
    const { maxMsgs = 0, maxAgeMs = 0, maxBytes = 0 } = this.config;
    const drop = () => {
      const m = this.msgs.shift()!;
      this.#bytes -= m.data.length;
    };
    while (maxMsgs > 0 && this.msgs.length > maxMsgs) drop();
    while (maxBytes > 0 && this.#bytes > maxBytes && this.msgs.length > 0) drop();
    while (maxAgeMs > 0 && this.msgs.length > 0 && now - this.msgs[0]!.time >= maxAgeMs) drop();
  }

  #find(seq: number): StoredMsg | undefined {
    const first = this.msgs[0]?.seq ?? this.lastSeq + 1;
    const m = this.msgs[seq - first];
    return m?.seq === seq ? m : this.msgs.find((x) => x.seq === seq);
  }

  /** Reads messages back, oldest first. */
  read(options: ReadStreamOptions): StoredMsg[] {
    this.#enforceLimits(Date.now());
    const limit = options.limit ?? 100;
    const matching = this.msgs.filter(
      (m) => m.seq >= (options.fromSeq ?? 0) && m.time >= (options.fromTime ?? 0) && (!options.subject || subjectMatches(options.subject, m.subject)),
    );
    return (options.last ? matching.slice(-limit) : matching.slice(0, limit)).map((m) => ({ ...m, data: m.data.slice() }));
  }

  /** Attaches a handler to a durable, creating it when absent. */
  consume(options: ConsumeOptions, handler: (msg: DurableMsg) => void | Promise<void>): Consumer {
    let d = this.#durables.get(options.durable);
    if (!d) {
      d = { options, deliveredSeq: options.deliverPolicy === 'new' ? this.lastSeq : 0, pending: new Map(), redeliver: [], pumping: false };
      this.#durables.set(options.durable, d);
    }
    const state = d;
    state.handler = handler;
    setImmediate(() => this.#pump(state));
    return {
      stop: async () => {
        if (state.handler === handler) state.handler = undefined;
        while (state.pumping) await new Promise((r) => setImmediate(r));
      },
    };
  }

  /** Stops every consumer and timer (bus closed). */
  close(): void {
    for (const d of this.#durables.values()) {
      d.handler = undefined;
      for (const p of d.pending.values()) clearTimeout(p.timer);
    }
  }

  #next(d: DurableState): StoredMsg | undefined {
    while (d.redeliver.length > 0) {
      const m = this.#find(d.redeliver.shift()!);
      if (m && d.pending.has(m.seq)) return m;
    }
    const filter = d.options.filterSubject;
    for (const m of this.msgs) {
      if (m.seq <= d.deliveredSeq) continue;
      d.deliveredSeq = m.seq;
      if (!filter || subjectMatches(filter, m.subject)) return m;
    }
    return undefined;
  }

  #pump(d: DurableState): void {
    if (d.pumping || !d.handler) return;
    d.pumping = true;
    void (async () => {
      try {
        while (d.handler && d.pending.size < (d.options.maxAckPending ?? 1000)) {
          const m = this.#next(d);
          if (!m) break;
          const handler = d.handler;
          const entry = d.pending.get(m.seq) ?? { count: 0 };
          entry.count += 1;
          clearTimeout(entry.timer);
          entry.timer = setTimeout(() => this.#requeue(d, m.seq), d.options.ackWaitMs ?? 30_000);
          d.pending.set(m.seq, entry);
          const msg = this.#toDurableMsg(d, m, entry.count);
          try {
            await handler(msg);
          } catch {
            msg.nak();
          }
        }
      } finally {
        d.pumping = false;
      }
    })();
  }

  #requeue(d: DurableState, seq: number): void {
    if (!d.pending.has(seq)) return;
    d.redeliver.push(seq);
    this.#pump(d);
  }

  #toDurableMsg(d: DurableState, m: StoredMsg, count: number): DurableMsg {
    let settled = false;
    const settle = (): { count: number; timer?: NodeJS.Timeout } | undefined => {
      if (settled) return undefined;
      settled = true;
      const p = d.pending.get(m.seq);
      clearTimeout(p?.timer);
      return p;
    };
    return {
      subject: m.subject,
      data: m.data.slice(),
      headers: m.headers,
      seq: m.seq,
      time: m.time,
      deliveryCount: count,
      redelivered: count > 1,
      ack: () => {
        if (settle()) d.pending.delete(m.seq);
        setImmediate(() => this.#pump(d));
      },
      term: () => {
        if (settle()) d.pending.delete(m.seq);
        setImmediate(() => this.#pump(d));
      },
      nak: (delayMs = 0) => {
        const p = settle();
        if (p) p.timer = setTimeout(() => this.#requeue(d, m.seq), delayMs);
      },
    };
  }
}
