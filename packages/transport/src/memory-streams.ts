/**
 * In-process JetStream streams: capture by subject, retention limits (max age, messages,
 * bytes; oldest dropped first), de-duplication by `Nats-Msg-Id` within the duplicate window,
 * and history reads. Durable consumers live in memory-consumer.ts.
 */
import type { Clock } from '@backbeat/core';
import type { Headers } from './headers.js';
import { MSG_ID_HEADER } from './bus.js';
import { StreamRefusedError } from './errors.js';
import { MemoryDurable } from './memory-consumer.js';
import type {
  ConsumeOptions,
  ConsumerState,
  ReadStreamOptions,
  ResolvedStreamConfig,
  StoredMsg,
  StreamMsgQuery,
  StreamState,
} from './stream-types.js';
import { resolveReadLimit } from './stream-types.js';
import { subjectMatches } from './subjects.js';

/** One stream held in memory, shared by every client of the broker. */
export class MemoryStream {
  #config: ResolvedStreamConfig;
  /** Stored messages, ascending by sequence. */
  readonly #msgs: StoredMsg[] = [];
  #lastSeq = 0;
  #bytes = 0;
  readonly #dedupe = new Map<string, { seq: number; time: number }>();
  readonly #durables = new Map<string, MemoryDurable>();

  readonly #clock: Clock;

  /** @param clock its wallNow() stamps stored messages and ages them; its timers drive ack waits */
  constructor(config: ResolvedStreamConfig, clock: Clock) {
    this.#config = config;
    this.#clock = clock;
  }

  /** The clock of the broker holding this stream. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The configuration in force. */
  get config(): ResolvedStreamConfig {
    return this.#config;
  }

  /** Sequence of the last message ever stored (0 when none). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Applies a new configuration; limits take effect at once, as on nats-server. */
  reconfigure(config: ResolvedStreamConfig): void {
    this.#config = config;
    this.enforceLimits();
  }

  /** True when one of the stream's subjects matches `subject`. */
  captures(subject: string): boolean {
    return this.#config.subjects.some((p) => subjectMatches(p, subject));
  }

  /**
   * Stores a message; returns its sequence, or the first copy's when its msgId is a duplicate.
   * @throws StreamRefusedError over maxMsgSize (payload and headers), or when full with discard 'new'
   */
  store(subject: string, data: Uint8Array, headers: Headers): { seq: number; duplicate: boolean } {
    const now = this.#clock.wallNow();
    for (const [id, d] of this.#dedupe) {
      if (now - d.time < this.#config.duplicateWindowMs) break; // insertion order = time order
      this.#dedupe.delete(id);
    }
    const msgId = headers[MSG_ID_HEADER];
    const seen = msgId === undefined ? undefined : this.#dedupe.get(msgId);
    if (seen) return { seq: seen.seq, duplicate: true };
    const { maxMsgSize, maxMsgs, maxBytes, discard } = this.#config;
    const size = data.length + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    if (maxMsgSize > 0 && size > maxMsgSize)
      throw new StreamRefusedError(subject, 'too_large', `${size} bytes, the limit is ${maxMsgSize}`);
    if (discard === 'new') {
      this.enforceLimits(now);
      if (maxMsgs > 0 && this.#msgs.length + 1 > maxMsgs)
        throw new StreamRefusedError(subject, 'full', 'maximum messages exceeded');
      if (maxBytes > 0 && this.#bytes + data.length > maxBytes)
        throw new StreamRefusedError(subject, 'full', 'maximum bytes exceeded');
    }
    const seq = ++this.#lastSeq;
    this.#msgs.push(
      Object.freeze({ subject, data: data.slice(), headers: Object.freeze({ ...headers }), seq, time: now }),
    );
    this.#bytes += data.length;
    if (msgId !== undefined) this.#dedupe.set(msgId, { seq, time: now });
    this.enforceLimits(now);
    for (const d of this.#durables.values()) d.pump();
    return { seq, duplicate: false };
  }

  /** Drops the oldest messages beyond maxMsgs, maxBytes and maxAge. */
  enforceLimits(now = this.#clock.wallNow()): void {
    const { maxMsgs, maxBytes, maxAgeMs } = this.#config;
    const drop = () => (this.#bytes -= this.#msgs.shift()!.data.length);
    while (maxMsgs > 0 && this.#msgs.length > maxMsgs) drop();
    while (maxBytes > 0 && this.#bytes > maxBytes && this.#msgs.length > 0) drop();
    while (maxAgeMs > 0 && this.#msgs.length > 0 && now - this.#msgs[0]!.time >= maxAgeMs) drop();
  }

  /** Index of the first stored message with a sequence >= `seq`. */
  #indexFrom(seq: number): number {
    let lo = 0;
    let hi = this.#msgs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#msgs[mid]!.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The stored message with sequence `seq`, unless limits dropped it. */
  find(seq: number): StoredMsg | undefined {
    const m = this.#msgs[this.#indexFrom(seq)];
    return m?.seq === seq ? m : undefined;
  }

  /** Sequence of the last stored message on `subject` before `seq` (0 when none). */
  lastOnSubjectBefore(seq: number, subject: string): number {
    for (let i = this.#indexFrom(seq) - 1; i >= 0; i--)
      if (this.#msgs[i]!.subject === subject) return this.#msgs[i]!.seq;
    return 0;
  }

  /** The first stored message after sequence `after` matching `filter`, if any. */
  nextAfter(after: number, filter?: string): StoredMsg | undefined {
    this.enforceLimits();
    for (let i = this.#indexFrom(after + 1); i < this.#msgs.length; i++) {
      const m = this.#msgs[i]!;
      if (!filter || subjectMatches(filter, m.subject)) return m;
    }
    return undefined;
  }

  /** Reads messages back, oldest first. @throws InvalidArgumentError for a bad limit */
  read(options: ReadStreamOptions): StoredMsg[] {
    const limit = resolveReadLimit(options.limit);
    this.enforceLimits();
    const from = this.#indexFrom(options.fromSeq ?? 0);
    const matching = this.#msgs
      .slice(from)
      .filter(
        (m) =>
          (options.fromTime === undefined || m.time >= options.fromTime) &&
          (!options.subject || subjectMatches(options.subject, m.subject)),
      );
    return (options.last ? matching.slice(-limit) : matching.slice(0, limit)).map((m) => ({
      ...m,
      data: m.data.slice(),
    }));
  }

  /** First and last sequences and the count held. */
  state(): StreamState {
    this.enforceLimits();
    return { firstSeq: this.#msgs[0]?.seq ?? this.#lastSeq + 1, lastSeq: this.#lastSeq, messages: this.#msgs.length };
  }

  /** One stored message by sequence (first at or after it) or the last on a subject. */
  get(query: StreamMsgQuery): StoredMsg | undefined {
    this.enforceLimits();
    let m: StoredMsg | undefined;
    if ('lastBySubject' in query) {
      for (let i = this.#msgs.length - 1; i >= 0 && !m; i--)
        if (subjectMatches(query.lastBySubject, this.#msgs[i]!.subject)) m = this.#msgs[i];
    } else m = this.nextAfter(Math.max(1, query.seq) - 1, query.subject);
    return m && { ...m, data: m.data.slice() };
  }

  /** Sequence of the first message stored at or after `time` (lastSeq + 1 when none). */
  seqAtTime(time: number): number {
    let lo = 0;
    let hi = this.#msgs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#msgs[mid]!.time < time) lo = mid + 1;
      else hi = mid;
    }
    return this.#msgs[lo]?.seq ?? this.#lastSeq + 1;
  }

  /** The durables of this stream. */
  consumers(): ConsumerState[] {
    return [...this.#durables].map(([name, d]) => ({ name, durable: true, ...d.counts() }));
  }

  /** Deletes a durable and detaches its consumers; false when there is none. */
  deleteDurable(name: string): boolean {
    const d = this.#durables.get(name);
    if (!d) return false;
    d.detachAll();
    return this.#durables.delete(name);
  }

  /** Matching messages after sequence `after`. */
  countAfter(after: number, filter?: string): number {
    let n = 0;
    for (let i = this.#indexFrom(after + 1); i < this.#msgs.length; i++)
      if (!filter || subjectMatches(filter, this.#msgs[i]!.subject)) n++;
    return n;
  }

  /** The durable named in `options`, created when absent, else updated to `options`. */
  durable(options: ConsumeOptions): MemoryDurable {
    let d = this.#durables.get(options.durable);
    if (d) d.update(options);
    else {
      d = new MemoryDurable(this, options);
      this.#durables.set(options.durable, d);
    }
    return d;
  }
}
