/**
 * A simulated cluster for the lease machine (docs/spec.md §7 Election, terms and fencing): nodes
 * that run `step` directly on a shared simulated KV, in true time on an event queue, with no
 * server, timers or I/O. The KV does what the lease relies on: compare-and-set by revision, the
 * bucket's TTL (the server expires a lease 0 to 300 ms after it, never before), limit markers (a
 * watched delete on expiry; none without them, as on nats-server 2.9), and a stream without a
 * leader ("no responders" for every node alike; with markers nothing expires meanwhile, without
 * them the replicas expire by TTL). Each node has its own clock offset, its own link faults
 * (timeouts and hangs, whose writes may still have been applied), pauses (nothing of it runs;
 * what it missed arrives when it wakes), clock-check refusals and self-fences. What every node
 * could publish is recorded as intervals of true time.
 */
import {
  initialLeaseState,
  outageTimings,
  step,
  type KvAnswer,
  type KvOp,
  type LeaseEvent,
  type LeaseState,
  type LeaseTimer,
  type PulseLeaseRecord,
  type TermRecord,
} from '@backbeat/pulse/internal';

export type LinkFault = 'none' | 'timeout' | 'hang';
type Bucket = KvOp['key'];

/** A small seeded generator (mulberry32): the same seed replays the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a node could publish over [start, end) of true time, under `term`. */
export interface PublishInterval {
  readonly node: number;
  readonly start: number;
  readonly end: number;
  readonly term: number;
}

export interface SimNode {
  readonly id: string;
  /** Local clock minus true time (the servers' clock is true time). */
  readonly offset: number;
  state: LeaseState;
  link: Record<Bucket, LinkFault>;
  /** Requests held by a hanging link; they fail as timeouts when it heals. */
  hung: Array<{ req: number; bucket: Bucket }>;
  pausedUntil: number;
  refused: boolean;
  /** The publish deadline the emitter obeys (from `deadline` effects), on the local clock. */
  fence: { validUntil: number; term: number };
  /** Current timer event ids (a re-armed or disarmed timer's old event is ignored). */
  timers: Map<LeaseTimer, number>;
  /** Terms this node's view went through, in order. */
  terms: number[];
  open: PublishInterval[];
}

type Item =
  | { kind: 'event'; node: number; event: LeaseEvent; timerId?: number }
  | { kind: 'apply'; node: number; req: number; op: KvOp; lost: boolean }
  | { kind: 'expire'; revision: number };

export interface SimOptions {
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly clockOffsetBoundMs: number;
  readonly offsets: readonly number[];
  readonly markers: boolean;
  readonly seed: number;
}

/** The simulated cluster. */
export class LeaseSim {
  now = 0;
  readonly nodes: SimNode[];
  readonly intervals: PublishInterval[] = [];
  readonly noLeader: Record<Bucket, boolean> = { lease: false, term: false };
  readonly #rand: () => number;
  readonly #queue: Array<{ at: number; seq: number; item: Item }> = [];
  #seq = 0;
  #lease: { value: PulseLeaseRecord; revision: number; created: number } | null = null;
  #leaseRev = 0;
  #counter: { value: TermRecord; revision: number } | null = null;
  #counterRev = 0;
  /** A lease due to expire while the stream had no leader (with markers it goes when one is elected). */
  #overdue = false;
  readonly #timeoutMs: number;

  constructor(readonly o: SimOptions) {
    this.#rand = prng(o.seed);
    this.#timeoutMs = outageTimings(o.ttlMs).requestTimeoutMs;
    this.nodes = o.offsets.map((offset, i) => ({
      id: `n${i}`,
      offset,
      state: initialLeaseState({
        nodeId: `n${i}`,
        ttlMs: o.ttlMs,
        fenceMarginMs: Math.max(100, o.ttlMs / 8),
        kvOutageGraceMs: o.graceMs,
        clockOffsetBoundMs: o.clockOffsetBoundMs,
        timings: outageTimings(o.ttlMs),
      }),
      link: { lease: 'none', term: 'none' },
      hung: [],
      pausedUntil: -1,
      refused: false,
      fence: { validUntil: 0, term: 0 },
      timers: new Map(),
      terms: [],
      open: [],
    }));
  }

  /** Starts every node at once. */
  start(): void {
    this.nodes.forEach((_, i) => this.#push(this.now, { kind: 'event', node: i, event: { type: 'start' } }));
  }

  /** Runs the queue up to true time `until`. Bounded: at most `maxEvents` events. */
  run(until: number, maxEvents = 200_000): void {
    for (let n = 0; n < maxEvents; n++) {
      const next = this.#queue[0];
      if (!next || next.at > until) break;
      this.#queue.shift();
      this.now = next.at;
      this.#handle(next.item, next.at, next.seq);
    }
    this.now = until;
  }

  /** Sets a node's link fault on a bucket; healing fails its hung requests as timeouts, now. */
  setLink(i: number, bucket: Bucket, fault: LinkFault): void {
    const n = this.nodes[i]!;
    n.link[bucket] = fault;
    if (fault !== 'none') return;
    for (const h of n.hung.filter((x) => x.bucket === bucket)) this.#answer(i, h.req, timeout(), this.now);
    n.hung = n.hung.filter((x) => x.bucket !== bucket);
  }

  /** A bucket's stream loses or regains its leader. */
  setNoLeader(bucket: Bucket, on: boolean): void {
    this.noLeader[bucket] = on;
    if (!on && bucket === 'lease' && this.#overdue) this.#expire();
  }

  /** Node `i` is paused (SIGSTOP) for `ms`: nothing of it runs; what arrives meanwhile waits. */
  pause(i: number, ms: number): void {
    const n = this.nodes[i]!;
    n.pausedUntil = Math.max(n.pausedUntil, this.now + ms);
  }

  /** Raises an event at node `i` now (a refusal is read from `refused` at every step). */
  raise(i: number, event: LeaseEvent): void {
    this.#push(this.now, { kind: 'event', node: i, event });
  }

  /** Ends the run: every node's open windows close now; returns every publish interval, by start. */
  finish(): PublishInterval[] {
    for (const n of this.nodes) this.#close(n);
    return [...this.intervals].sort((a, b) => a.start - b.start || a.node - b.node);
  }

  #push(at: number, item: Item, seq = this.#seq++): void {
    const q = this.#queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = q[mid]!;
      if (m.at < at || (m.at === at && m.seq < seq)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, { at, seq, item });
  }

  #handle(item: Item, at: number, seq: number): void {
    if (item.kind === 'expire') {
      if (this.#lease?.revision !== item.revision) return;
      if (this.o.markers && this.noLeader.lease) this.#overdue = true;
      else this.#expire();
      return;
    }
    if (item.kind === 'apply') return this.#apply(item.node, item.req, item.op, item.lost);
    const n = this.nodes[item.node]!;
    if (n.pausedUntil > at) return this.#push(n.pausedUntil, item, seq); // it runs when it wakes, in order
    if (item.timerId !== undefined) {
      const t = (item.event as { timer: LeaseTimer }).timer;
      if (n.timers.get(t) !== item.timerId) return;
      n.timers.delete(t);
    }
    this.#step(item.node, item.event);
  }

  #step(i: number, event: LeaseEvent): void {
    const n = this.nodes[i]!;
    const local = this.now + n.offset;
    const r = step(n.state, event, {
      at: local,
      wall: local,
      lastSlot: undefined,
      refusal: n.refused ? 'clock offset' : null,
    });
    n.state = r.state;
    for (const e of r.effects) {
      if (e.type === 'kv') this.#send(i, e.req, e.op);
      else if (e.type === 'arm') {
        const id = this.#seq++;
        n.timers.set(e.timer, id);
        this.#push(Math.max(this.now, e.at - n.offset), {
          kind: 'event',
          node: i,
          event: { type: 'timer', timer: e.timer },
          timerId: id,
        });
      } else if (e.type === 'disarm') n.timers.delete(e.timer);
      else if (e.type === 'deadline') n.fence = { validUntil: e.validUntil, term: e.term };
    }
    if (n.terms.at(-1) !== n.state.term) n.terms.push(n.state.term);
    this.#close(n);
    this.#reopen(i);
  }

  /** What node `i` may publish from now on: by the deadline it was given, and by its own check before each publish. */
  #reopen(i: number): void {
    const n = this.nodes[i]!;
    const s = n.state;
    if (n.fence.validUntil > 0)
      n.open.push({ node: i, start: this.now, end: n.fence.validUntil - n.offset, term: n.fence.term });
    if (s.isLeader) {
      // The check the in-thread emitter makes before each publish (mayPublish): leading, guard over, before the fence.
      const start = Math.max(this.now, s.publishFrom - n.offset);
      n.open.push({ node: i, start, end: s.validUntil - n.offset, term: s.term });
    }
  }

  #close(n: SimNode): void {
    for (const w of n.open.splice(0)) {
      const end = Math.min(w.end, this.now);
      if (end > w.start) this.intervals.push({ ...w, end });
    }
  }

  #send(i: number, req: number, op: KvOp): void {
    const n = this.nodes[i]!;
    const link = n.link[op.key];
    // A hanging link (a stalled process or connection) carries nothing; a request that times
    // out may have reached the server and been applied, only its answer lost.
    if (link === 'hang') {
      n.hung.push({ req, bucket: op.key });
      return;
    }
    if (link === 'timeout') {
      if (this.#rand() < 0.5) this.#push(this.now + this.#latency(), { kind: 'apply', node: i, req, op, lost: true });
      this.#answer(i, req, timeout(), this.now + this.#timeoutMs);
      return;
    }
    if (this.noLeader[op.key]) return this.#answer(i, req, noResponders(), this.now + 1 + Math.floor(this.#rand() * 5));
    this.#push(this.now + this.#latency(), { kind: 'apply', node: i, req, op, lost: false });
  }

  #latency(): number {
    return Math.floor(this.#rand() * 20);
  }

  #answer(i: number, req: number, answer: KvAnswer, at: number): void {
    this.#push(at, { kind: 'event', node: i, event: { type: 'kv', req, answer } });
  }

  /** The server applies `op` now; its answer reaches the node a little later (a lost one never does). */
  #apply(i: number, req: number, op: KvOp, lost: boolean): void {
    let answer: KvAnswer;
    if (this.noLeader[op.key]) answer = noResponders();
    else answer = op.key === 'lease' ? this.#applyLease(op) : this.#applyCounter(op);
    if (!lost) this.#answer(i, req, answer, this.now + this.#latency());
  }

  #applyLease(op: Extract<KvOp, { key: 'lease' }>): KvAnswer {
    const cur = this.#lease;
    switch (op.op) {
      case 'get':
        return { ok: true, lease: cur ? { value: cur.value, revision: cur.revision, created: cur.created } : null };
      case 'create':
        if (cur) return conflict();
        return this.#writeLease(op.value);
      case 'update':
        if (!cur || cur.revision !== op.expectedRevision) return conflict();
        return this.#writeLease(op.value);
      case 'delete':
        if (!cur || cur.revision !== op.expectedRevision) return conflict();
        this.#lease = null;
        this.#leaseRev++;
        this.#overdue = false;
        this.#watch({ type: 'lease-ended' });
        return { ok: true };
    }
  }

  #writeLease(value: PulseLeaseRecord): KvAnswer {
    const revision = ++this.#leaseRev;
    this.#lease = { value, revision, created: this.now };
    this.#overdue = false;
    this.#push(this.now + this.o.ttlMs + Math.floor(this.#rand() * 300), { kind: 'expire', revision });
    this.#watch({ type: 'lease-written', revision, created: this.now });
    return { ok: true, revision };
  }

  #expire(): void {
    this.#lease = null;
    this.#overdue = false;
    if (!this.o.markers) return; // nats-server 2.9: silent
    this.#leaseRev++;
    this.#watch({ type: 'lease-ended' });
  }

  #applyCounter(op: Extract<KvOp, { key: 'term' }>): KvAnswer {
    const cur = this.#counter;
    switch (op.op) {
      case 'get':
        return { ok: true, counter: cur ? { value: cur.value, revision: cur.revision } : null };
      case 'create':
        if (cur) return conflict();
        this.#counter = { value: op.value, revision: ++this.#counterRev };
        return { ok: true, revision: this.#counterRev };
      case 'update':
        if (!cur || cur.revision !== op.expectedRevision) return conflict();
        this.#counter = { value: op.value, revision: ++this.#counterRev };
        return { ok: true, revision: this.#counterRev };
    }
  }

  /** Every node's watch sees a change of the lease key a little later (a paused node when it wakes). */
  #watch(event: LeaseEvent): void {
    this.nodes.forEach((_, i) => this.#push(this.now + this.#latency(), { kind: 'event', node: i, event }));
  }
}

const timeout = (): KvAnswer => ({ ok: false, failure: { kind: 'failed', message: 'request timed out' } });
const noResponders = (): KvAnswer => ({ ok: false, failure: { kind: 'no-responders', message: 'no responders' } });
const conflict = (): KvAnswer => ({ ok: false, failure: { kind: 'conflict', message: 'wrong last sequence' } });
