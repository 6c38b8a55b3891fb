/**
 * The bar ledger simulation of bar-ledger.test.ts: two replicas share a simulated claim stream
 * and report stream; the seed and rates pick deliveries, redeliveries, stalls, reads, store
 * answers and restarts (docs/spec.md §9 Reverb). Returns what the checks need.
 */
import { createTempoMap, timeOf } from '@backbeat/core';
import type { BarReport } from '@backbeat/contracts';
import {
  catchUpTarget,
  createLedger,
  nextDue,
  planRecovery,
  step,
  type LedgerEffect,
  type LedgerEvent,
  type LedgerState,
} from '@backbeat/reverb/internal';

export const BAR = 4;
const T0 = 1_700_000_000_000;
const MAP = createTempoMap({ startTime: T0, tempoBpm: 600, barLength: BAR }); // 100 ms beats
const enc = new TextEncoder();

interface Stored {
  readonly seq: number;
  readonly storedAt: number;
  readonly data: Uint8Array;
  readonly headers: Record<string, string>;
}

interface Copy {
  readonly report: BarReport;
  readonly cut: number;
  readonly by: string;
  /** What the builder counted in the bar: each message's sequence and what it became. */
  readonly counted: ReadonlyArray<{ seq: number; kind: string }>;
}

/** A small deterministic PRNG (mulberry32): fast-check picks the seed and the rates. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The claim stream of a run: claims of `agents` agents over `bars` bars, some late, some stored twice, with gaps. */
function claimStream(rnd: () => number, bars: number, rates: Rates): Stored[] {
  const raw: Array<{ storedAt: number; data: Uint8Array; headers: Record<string, string> }> = [];
  for (let beat = 0; beat < bars * BAR; beat++) {
    for (let a = 0; a < 3; a++) {
      if (rnd() < 0.2) continue;
      const agent = `agent:${a}`;
      const hlc = `${(timeOf(MAP, beat) + a).toString(16)}:0001:${a.toString(16).padStart(4, '0')}`;
      const data = enc.encode(
        JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: beat, state: 'executing', hlc }),
      );
      const headers = { 'x-agent-id': agent, 'x-hlc': hlc };
      // A late claim was queued through a partition: it is stored after its bar's report.
      const late = rnd() < rates.late ? 400 + rnd() * 1200 : rnd() * 90;
      raw.push({ storedAt: timeOf(MAP, beat) + late, data, headers });
      if (rnd() < rates.twice) raw.push({ storedAt: timeOf(MAP, beat) + late + 50 + rnd() * 400, data, headers });
    }
  }
  raw.sort((x, y) => x.storedAt - y.storedAt);
  let seq = 0;
  return raw.map((m) => ({ ...m, seq: (seq += rnd() < rates.gap ? 2 : 1) }));
}

export interface Rates {
  readonly late: number;
  readonly twice: number;
  readonly gap: number;
  readonly stall: number;
  readonly redeliver: number;
  readonly duplicate: number;
  readonly shortRead: number;
  readonly storeFails: number;
  readonly ackLost: number;
  readonly restart: number;
}

/** One replica: its ledger (replaced at a restart) and its durable consumer's position. */
class Replica {
  ledger!: LedgerState;
  /** Next stream index the consumer delivers; the ack floor it falls back to on a redelivery. */
  next = 0;
  acked = 0;
  /** The store answer to give at a later tick. */
  pending: { fromBeat: number; answer: LedgerEvent } | undefined;
  /** from_beat of every report-done of this incarnation, in order. */
  done: number[] = [];
  incarnations: number[][] = [];
  downbeatsSent = -1;

  constructor(readonly id: string) {
    this.fresh();
  }

  fresh(): void {
    if (this.done.length > 0) this.incarnations.push(this.done);
    this.done = [];
    this.ledger = createLedger({
      clusterId: 'prop',
      nodeId: this.id,
      signatures: 'off',
      maxClaimBytes: 65_536,
      replayBars: 2,
      maxClaimDelayMs: 120_000,
      barLength: BAR,
      windowTtlMs: 300_000,
      maxWindows: 1000,
    });
    this.pending = undefined;
  }
}

/** Runs one scenario; returns what the checks need. */
export function run(seed: number, rates: Rates) {
  const rnd = prng(seed);
  const bars = 6 + Math.floor(rnd() * 4);
  const stream = claimStream(rnd, bars, rates);
  const reports = new Map<number, Copy>();
  /** What the server republished (one per stored copy) and the copies the ledger calls a replica's own. */
  const broadcasts = new Map<number, number>();
  const ownCopies = new Map<number, number>();
  const replicas = [new Replica('A'), new Replica('B')];
  let id = 0;
  let faults = true;
  const unanswered = new Set<number>();

  const apply = (r: Replica, e: LedgerEvent, now: number): LedgerEffect[] => {
    const { effects } = step(r.ledger, e, now);
    for (const fx of effects) {
      if (fx.type === 'report-done') {
        r.done.push(fx.fromBeat);
        if (fx.ownCopy) ownCopies.set(fx.fromBeat, (ownCopies.get(fx.fromBeat) ?? 0) + 1);
      }
      if (fx.type === 'store-report') {
        const counted = r.ledger.windows.peek(fx.fromBeat)!.countedAfter(0);
        const copy = reports.get(fx.fromBeat);
        let answer: LedgerEvent;
        if (copy) answer = { type: 'found-stored', report: copy.report, cut: copy.cut, storedBy: copy.by };
        else if (faults && rnd() < rates.storeFails) answer = { type: 'store-failed', why: 'store' };
        else {
          reports.set(fx.fromBeat, { report: fx.report, cut: fx.cut, by: r.id, counted });
          broadcasts.set(fx.fromBeat, (broadcasts.get(fx.fromBeat) ?? 0) + 1); // the stream's republish
          answer = faults && rnd() < rates.ackLost ? { type: 'store-failed', why: 'store' } : { type: 'stored' };
        }
        r.pending = { fromBeat: fx.fromBeat, answer };
      }
    }
    return effects;
  };
  const claim = (r: Replica, m: Stored, source: 'live' | 'redelivered' | 'history', now: number) =>
    apply(
      r,
      {
        type: 'claim',
        id: ++id,
        data: m.data,
        headers: m.headers,
        storedAt: m.storedAt,
        source,
        seq: m.seq,
        wall: now,
        followedBeat: -1,
      },
      now,
    );
  const lastSeqAt = (now: number) => stream.filter((m) => m.storedAt <= now).at(-1)?.seq ?? 0;
  /** A direct read of the stream from `fromSeq` (or a time) up to `toSeq`; false when it came back short. */
  const read = (
    r: Replica,
    from: { seq?: number; time?: number },
    toSeq: number,
    now: number,
    mayFail: boolean,
  ): boolean => {
    const all = stream.filter(
      (m) =>
        m.seq <= toSeq && m.storedAt <= now && (from.seq !== undefined ? m.seq >= from.seq : m.storedAt >= from.time!),
    );
    const short = mayFail && rnd() < rates.shortRead;
    for (const m of short ? all.slice(0, Math.floor(all.length / 2)) : all) claim(r, m, 'live', now);
    return !short;
  };

  /** The start-up rebuild, as rebuild.ts does it, from the report stream and the claim stream. */
  const restart = (r: Replica, now: number) => {
    // A replica that stops between its store and the answer never learns its copy is the record.
    if (r.pending && reports.get(r.pending.fromBeat)?.by === r.id) unanswered.add(r.pending.fromBeat);
    r.fresh();
    apply(r, { type: 'tempo', map: MAP }, now);
    const last = [...reports.keys()].sort((x, y) => x - y).at(-1);
    if (last !== undefined) {
      const c = reports.get(last)!;
      apply(r, { type: 'last-report', fromBeat: last, cut: c.cut, storedAt: now - 1 }, now);
    }
    const oldest = stream.find((m) => m.storedAt <= now);
    const plan = planRecovery({
      map: MAP,
      barLength: BAR,
      now,
      lastReported: last,
      oldestClaimAt: oldest?.storedAt,
      maxBars: 1000,
    })!;
    apply(r, { type: 'rebuild', firstBar: plan.firstBar, currentBar: plan.currentBar }, now);
    let cursor = stream.findIndex((m) => m.storedAt >= plan.readFrom);
    if (cursor < 0) cursor = stream.length;
    const readUntil = (stop: (m: Stored) => boolean) => {
      let lastSeq: number | undefined;
      while (cursor < stream.length && stream[cursor]!.storedAt <= now && !stop(stream[cursor]!)) {
        lastSeq = stream[cursor]!.seq;
        claim(r, stream[cursor++]!, 'history', now);
      }
      // A sequential read covers every sequence up to the last it handed over (gaps included).
      if (lastSeq !== undefined) apply(r, { type: 'read-through', seq: lastSeq }, now);
    };
    for (;;) {
      const next = r.ledger.reportedUpTo! + BAR;
      if (next > r.ledger.dueUpTo) break;
      const horizon = Math.max(timeOf(MAP, next + BAR + 1), timeOf(MAP, next + BAR) + 1000);
      readUntil((m) => m.storedAt >= horizon);
      const cut = r.ledger.reportedCut ?? 0;
      if ((r.ledger.handled.upTo ?? 0) < cut) readUntil((m) => m.seq > cut);
      apply(r, { type: 'build', fromBeat: next, wall: now, hlc: `${now.toString(16)}:0000:0000` }, now);
      answer(r, now);
      if (r.ledger.reportedUpTo! < next) {
        // The store failed, or its answer was lost: start again. A copy of its own that it stored without hearing
        // so is then the record it finds as the last report: it never calls that copy its own.
        if (reports.get(next)?.by === r.id) unanswered.add(next);
        return restart(r, now);
      }
    }
    const target = lastSeqAt(now);
    readUntil((m) => m.seq > target);
    apply(r, { type: 'read-through', seq: target }, now);
    apply(r, { type: 'recovered' }, now);
    r.next = r.acked; // the durable resumes from its ack floor
  };
  const answer = (r: Replica, now: number) => {
    const p = r.pending;
    if (!p) return;
    r.pending = undefined;
    apply(r, p.answer, now);
  };

  for (const r of replicas) {
    apply(r, { type: 'tempo', map: MAP }, T0);
    apply(r, { type: 'recovered' }, T0);
  }
  const end = timeOf(MAP, (bars + 5) * BAR);
  for (let now = T0; now <= end; now += 50) {
    const calm = now > timeOf(MAP, (bars + 3) * BAR); // the last bars: no more faults, everything is reported
    faults = !calm;
    for (const r of replicas) {
      if (!calm && rnd() < rates.restart) restart(r, now);
      // Downbeats.
      const beat = Math.floor((now - T0) / 100);
      for (let b = r.downbeatsSent + 1; b <= beat; b++) {
        if (b % BAR === 0)
          apply(
            r,
            {
              type: 'downbeat',
              beat: b,
              at: { receivedAt: timeOf(MAP, b), scheduledAt: timeOf(MAP, b), source: 'leader' },
            },
            now,
          );
      }
      r.downbeatsSent = beat;
      // Consumer deliveries: stalls, redeliveries from the ack floor, the same message twice.
      if (!calm && rnd() < rates.redeliver) r.next = r.acked;
      const n = !calm && rnd() < rates.stall ? 0 : 1 + Math.floor(rnd() * 6);
      for (let k = 0; k < n && r.next < stream.length && stream[r.next]!.storedAt <= now; k++) {
        const m = stream[r.next]!;
        const redelivered = r.next < r.acked;
        claim(r, m, redelivered ? 'redelivered' : 'live', now);
        if (!calm && rnd() < rates.duplicate) claim(r, m, 'redelivered', now);
        r.next++;
        r.acked = Math.max(r.acked, r.next);
      }
      // The store answer of a report in flight.
      if (r.pending && (calm || rnd() < 0.6)) answer(r, now);
      // The report pump: catch up (wait, or read directly), build, store.
      const due = r.ledger.inFlight ? undefined : nextDue(r.ledger);
      if (due === undefined) continue;
      const target = catchUpTarget(r.ledger, due, lastSeqAt(now));
      if ((r.ledger.handled.upTo ?? -1) < target) {
        if (!calm && rnd() < 0.5) continue; // waits for the consumer
        const upTo = r.ledger.handled.upTo;
        if (!read(r, upTo !== undefined ? { seq: upTo + 1 } : { time: T0 }, target, now, !calm)) continue;
        apply(r, { type: 'read-through', seq: target }, now);
      }
      apply(r, { type: 'build', fromBeat: due, wall: now, hlc: `${now.toString(16)}:0000:0000` }, now);
    }
  }
  for (const r of replicas) answer(r, end);
  for (const r of replicas) r.incarnations.push(r.done);
  return { stream, reports, broadcasts, ownCopies, replicas, bars, unanswered };
}
