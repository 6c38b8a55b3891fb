/**
 * The lease rules across real network partitions (docs/spec.md §7 Election, terms and fencing:
 * "KV outage grace", "Server-checked fencing", "Stream placement", "Network partitions";
 * docs/decisions/0002-kv-outage-grace.md): three hosts of their own (network namespaces), one
 * nats-server per host in one JetStream cluster, `backbeat pulse` p1 on h1 and p2 on h2, each on
 * its own host's node (partition-fleet.ts). A cut drops packets: TCP sees silence. Each host's
 * observer sees what a client on that host receives.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { gridProblems, olderAfterNewer, slotNo, type SeenFrame } from './helpers.js';
import { now, PartitionFleet, QUIET_HOST, STREAMS, tail, TTL_MS, type HostObserver } from './partition-fleet.js';

/** The bound of a partition: TTL + 1 s (docs/spec.md §7 Election, terms and fencing, "Network partitions"). */
const BOUND_MS = TTL_MS + 1000;
/** How long each fault holds. */
const CUT_MS = 10_000;
const GRACE_LINE =
  "the lease KV does not answer; the beat stream still stores this term's frames: publishing on the KV-outage grace";

/** The fault's own duration: part of the fault, not a wait for a condition. */
const hold = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let fleet: PartitionFleet;
beforeAll(async () => {
  fleet = await PartitionFleet.start();
}, 120_000);
afterAll(async () => {
  await fleet?.stop();
}, 60_000);

/** Isolates host `host` for {@link CUT_MS}, then heals (also when something throws); returns the heal's instant. */
async function isolateFor(host: number): Promise<number> {
  try {
    await fleet.net.isolate(host);
    await hold(CUT_MS);
    await fleet.net.heal();
    return now();
  } finally {
    if (fleet.net.faults.length > 0) await fleet.net.heal();
  }
}

/** Waits until every observer in `observers` received a frame after `at`. */
async function framesAfter(observers: readonly HostObserver[], at: number): Promise<void> {
  await waitFor(() => observers.every((o) => o.frames.some((f) => f.at > at)), {
    timeoutMs: 20_000,
    intervalMs: 100,
    message: `frames after ${Math.round(at - now())} ms on hosts ${observers.map((o) => `h${o.host + 1}`).join(', ')}`,
  });
}

/** Frames that arrived from `from` to `to`. */
const between = (frames: readonly SeenFrame[], from: number, to: number): SeenFrame[] =>
  frames.filter((f) => f.at >= from && f.at <= to);

/**
 * The longest time without a frame from `from` to `to`: measured from the last frame before
 * `from` to the first one after `to`, so a silence at either end counts.
 */
function longestGap(frames: readonly SeenFrame[], from: number, to: number): number {
  const before = frames.filter((f) => f.at < from).at(-1);
  const after = frames.find((f) => f.at > to);
  const seq = [...(before ? [before] : []), ...between(frames, from, to), ...(after ? [after] : [])];
  let gap = 0;
  for (let i = 1; i < seq.length; i++) gap = Math.max(gap, seq[i]!.at - seq[i - 1]!.at);
  return Math.round(gap);
}

/** The frame of the highest slot, or undefined for none. */
const newest = (frames: readonly SeenFrame[]): SeenFrame | undefined =>
  frames.reduce<SeenFrame | undefined>((a, x) => (a && slotNo(a.frame) >= slotNo(x.frame) ? a : x), undefined);

const hostName = (i: number): string => `h${i + 1}`;

/**
 * What each host received and what each pulse said from a second before the cut on, relative to
 * the cut: printed when a test fails.
 */
function story(cutAt: number): string {
  const rel = (at: number): string => `${Math.round(at - cutAt)}`;
  const frames = fleet.observers.map(
    (o) =>
      `${hostName(o.host)}: ` +
      o.frames
        .filter((x) => x.at >= cutAt - 1000)
        .map((x) => `${x.frame.beat_index}${x.frame.phase[0]} t${x.term} @${rel(x.at)}`)
        .join(' '),
  );
  const logs = [...fleet.pulses].flatMap(([id, p]) =>
    (p.stdout + p.stderr).split('\n').flatMap((line) => {
      try {
        const o = JSON.parse(line) as { time?: number; msg?: string; err?: string };
        return typeof o.time === 'number' && o.time >= cutAt - 1000
          ? [`${id} @${rel(o.time)} ${o.msg ?? ''}${o.err ? ` (${o.err})` : ''}`]
          : [];
      } catch {
        return [];
      }
    }),
  );
  return [...frames, ...logs].join('\n');
}

/** Moves `stream`'s leader onto `host` and asserts that it leads it there. */
async function place(stream: string, host: number): Promise<void> {
  const p = await fleet.placeStream(stream, host);
  expect(p.host, `${stream} led from ${hostName(host)}; step-downs answered: ${p.answers.join(' | ')}`).toBe(host);
}

describe('pulse - network partitions between three hosts, one nats-server each', () => {
  // Before a leader whose renewals time out could ride the KV-outage grace while the beat stream
  // stores its frames (docs/spec.md §7 Election, terms and fencing, "KV outage grace"), this case
  // cost ~4.8 s and a new term: the leader stopped at its lease while the lease stream elected a
  // leader on the majority side, and the follower took a new term.
  it("partition - the follower's host cut while its NATS node leads the lease and state streams: the leader " +
    "rides out their elections on the beat stream's evidence; one term, gap within TTL + 1 s", async () => {
    const first = await fleet.steady();
    const f = first.host === 0 ? 1 : 0;
    await place(STREAMS.lease, f);
    await place(STREAMS.state, f);
    // The leader keeps the beat stream off the lease stream's node (reason with-lease).
    await waitFor(async () => ![undefined, f].includes(await fleet.streamLeaderHost(STREAMS.beat)), {
      timeoutMs: 15_000,
      intervalMs: 200,
      message: `the beat stream led off ${hostName(f)}`,
    });
    const l = await fleet.steady();
    expect(l.id).toBe(first.id);
    const led = [await fleet.streamLeaderHost(STREAMS.lease), await fleet.streamLeaderHost(STREAMS.state)];
    expect(led, 'the lease and state streams still led from the follower host').toEqual([f, f]);
    const proc = fleet.process(l.id);
    const [outFrom, errFrom] = [proc.stdout.length, proc.stderr.length];

    const cutAt = now();
    onTestFailed(() => console.log(story(cutAt)));
    const healedAt = await isolateFor(f);
    const until = healedAt + 3000;
    const majority = fleet.observers.filter((o) => o.host !== f);
    await framesAfter(majority, until);

    const gaps = majority.map((o) => longestGap(o.frames, cutAt, until));
    const terms = majority.map((o) => [...new Set(between(o.frames, cutAt, until).map((x) => x.term))]);
    console.log(
      `partition (follower's host ${hostName(f)} cut, its node leading lease+state; leader ${l.id} term ${l.term}): ` +
        `longest gap ${majority.map((o, k) => `${hostName(o.host)} ${gaps[k]} ms`).join(', ')}; ` +
        `terms ${majority.map((o, k) => `${hostName(o.host)} [${terms[k]!.join(',')}]`).join(', ')}`,
    );
    for (const [k, o] of majority.entries()) {
      expect(o.invalid, hostName(o.host)).toEqual([]);
      expect(gridProblems(between(o.frames, cutAt, until)), hostName(o.host)).toEqual([]);
      expect(terms[k], hostName(o.host)).toEqual([l.term]);
      expect(gaps[k], `longest gap on ${hostName(o.host)}`).toBeLessThanOrEqual(BOUND_MS);
    }
    const said = proc.stdout.slice(outFrom) + proc.stderr.slice(errFrom);
    expect(said, `the leader's log: ${tail(proc)}`).toContain(GRACE_LINE);
  }, 150_000);

  it("partition - the leader's host cut (lease, state and beat streams led from the majority): a new term on " +
    "the majority side within TTL + 1 s; no frame of the old term after the new term's first, on any host, " +
    'also after the heal', async () => {
    const first = await fleet.steady(30_000);
    const f = first.host === 0 ? 1 : 0;
    // Off the leader's host, and the beat stream off the lease stream's node (as the leader keeps it).
    await place(STREAMS.lease, QUIET_HOST);
    await place(STREAMS.state, QUIET_HOST);
    await place(STREAMS.beat, f);
    const l = await fleet.steady(30_000);
    expect(l.id).toBe(first.id);
    const led = await Promise.all(Object.values(STREAMS).map((s) => fleet.streamLeaderHost(s)));
    expect(led).toEqual([QUIET_HOST, QUIET_HOST, f]);

    const from = now() - 1000; // a second of the old term before the cut
    const cutAt = now();
    onTestFailed(() => console.log(story(cutAt)));
    const healedAt = await isolateFor(l.host);
    const until = healedAt + 4000;
    await framesAfter(fleet.observers, until);

    const majority = fleet.observers.filter((o) => o.host !== l.host);
    const handovers = majority.map((o) => {
      const seen = between(o.frames, from, until);
      const firstNew = seen.find((x) => x.term > l.term);
      // The old leader's last frame: the newest slot of its term (a frame republished towards this
      // host during an earlier cut may still arrive late, out of order).
      const lastOld = firstNew && newest(seen.filter((x) => x.at <= firstNew.at && x.term === l.term));
      return { o, firstNew, lastOld, gap: firstNew && lastOld ? Math.round(firstNew.at - lastOld.at) : undefined };
    });
    const late = fleet.observers.map((o) => olderAfterNewer(between(o.frames, from, until)));
    const slot = (x: SeenFrame | undefined): string =>
      x ? `${x.frame.beat_index}/${x.frame.phase} at +${Math.round(x.at - cutAt)} ms` : 'none';
    const when = handovers.map((h) => `${hostName(h.o.host)} ${slot(h.lastOld)}, ${slot(h.firstNew)}`).join('; ');
    console.log(
      `partition (leader ${l.id}'s host ${hostName(l.host)} cut, term ${l.term}): last old-term frame to first ` +
        `new-term frame ${handovers.map((h) => `${hostName(h.o.host)} ${h.gap ?? 'none'} ms`).join(', ')}; ` +
        `new term ${handovers.map((h) => h.firstNew?.term ?? 'none').join('/')}; ` +
        `(last old, first new after the cut: ${when}); ` +
        `older-term frames after a newer one: ${late.map((x, k) => `${hostName(k)} ${x.length}`).join(', ')}`,
    );
    for (const h of handovers) {
      const name = hostName(h.o.host);
      expect(h.o.invalid, name).toEqual([]);
      expect(h.firstNew, `a frame of a newer term than ${l.term} on ${name}`).toBeDefined();
      expect(h.firstNew!.at, `the new term's first frame on ${name} came during the cut`).toBeLessThan(healedAt);
      expect(h.lastOld, `a frame of term ${l.term} on ${name} before the new term`).toBeDefined();
      expect(h.gap, `old term to new term on ${name}`).toBeLessThanOrEqual(BOUND_MS);
    }
    for (const [k, x] of late.entries()) expect(x, `arrival order on ${hostName(k)}`).toEqual([]);
  }, 150_000);
});
