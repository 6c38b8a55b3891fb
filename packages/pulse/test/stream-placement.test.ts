/**
 * Stream placement (docs/spec.md §7 Election, terms and fencing, "Stream placement") on a real
 * 3-node nats-server cluster on loopback, every bucket R3: the leading pulse, connected to node 0
 * only, moves the lease and state streams' Raft leaders off node 0 (when the test forces them
 * there) and says so; the step-downs cost no term and no slot; and a kill -9 of node 0 (the
 * leader's host, as in a cut of it) is then survived within the lease TTL + 1 s, against the
 * stream election that `--stream-placement off` waits out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster, waitFor } from '@backbeat/testing';
import { clusterNames, NatsBus, openLeaseBucket, openStateBucket } from '@backbeat/transport';
import type { Logger } from '@backbeat/core';
import { Pulse } from '@backbeat/pulse';
import { collectFrames, gridProblems, slotNo, type SeenFrame } from './helpers.js';

const TTL = 2000;
/** The bound of a move: a look every 3 s, the wait for a fresh renewal (<= TTL/2), the step-down, a second of slack. */
const MOVE_BOUND_MS = 3000 + TTL / 2 + 1000;
const NAME = 'place';
let cluster: NatsCluster;
let admin: NatsBus;
const buses: NatsBus[] = [];
const pulses: Pulse[] = [];

const now = (): number => performance.timeOrigin + performance.now();
const streamsOf = (c: string): { lease: string; state: string } => ({
  lease: `KV_${clusterNames(c).leaseBucket}`,
  state: `KV_${clusterNames(c).stateBucket}`,
});

beforeAll(async () => {
  cluster = await NatsCluster.start(3, { name: NAME });
  admin = await connect(cluster.urls);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(pulses.map((p) => p.stop()));
  await Promise.allSettled([...buses, admin].map((b) => b?.close()));
  await cluster?.stop();
}, 60_000);

async function connect(servers: string[]): Promise<NatsBus> {
  const b = await NatsBus.connect({ servers, reconnectTimeWaitMs: 100, pingIntervalMs: 1000 });
  buses.push(b);
  return b;
}

interface LogLine {
  readonly at: number;
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log =
    (level: string) =>
    (o: object, msg = ''): void =>
      void lines.push({ at: now(), level, msg, fields: o as Record<string, unknown> });
  const logger: Logger = {
    debug: () => {},
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return { logger, lines };
}

/** A pulse connected to node `node` (as a pulse on that node's host, whose clients use their own host's server). */
async function pulseOn(
  node: number,
  clusterId: string,
  nodeId: string,
  streamPlacement: 'off' | 'away-from-leader' = 'away-from-leader',
): Promise<{ pulse: Pulse; lines: LogLine[] }> {
  const { logger, lines } = recordingLogger();
  const pulse = new Pulse({
    bus: await connect([cluster.urls[node]!]),
    clusterId,
    nodeId,
    bpm: 120,
    maxBpm: 120,
    leaseTtlMs: TTL,
    replicas: 3,
    streamPlacement,
    logger,
  });
  pulses.push(pulse);
  await pulse.start();
  return { pulse, lines };
}

/** Index of the node leading `stream` now (the monitoring endpoints), or -1 while it elects one. */
async function leaderOf(stream: string): Promise<number> {
  const leader = (await cluster.streamCluster(stream))?.leader;
  return leader === undefined ? -1 : cluster.names.indexOf(leader);
}

/**
 * Puts `stream`'s leader on node `node` (a step-down naming it as the preferred peer, nats-server
 * 2.11+), as an election could; returns when node `node` leads it.
 */
async function forceOnto(stream: string, node: number): Promise<number> {
  const body = new TextEncoder().encode(JSON.stringify({ placement: { preferred: cluster.names[node] } }));
  return waitFor(
    async () => {
      await cluster.waitForStreamCurrent(stream, 3, 10_000);
      if ((await leaderOf(stream)) === node) return now();
      await admin.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, body, { timeoutMs: 2000 }).catch(() => undefined);
      const leads = await waitFor(
        async () => {
          const i = await leaderOf(stream);
          return i >= 0 ? { i } : null; // boxed: index 0 is falsy
        },
        { timeoutMs: 5000, message: `a leader for ${stream}` },
      );
      return leads.i === node ? now() : null;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: `${stream} led by node ${node}` },
  );
}

/** Waits until `stream` is led by a node other than `node`; returns when that was seen. */
function movedOff(stream: string, node: number, timeoutMs: number): Promise<number> {
  return waitFor(
    async () => {
      const i = await leaderOf(stream);
      return i >= 0 && i !== node ? now() : null;
    },
    { timeoutMs, intervalMs: 25, message: `${stream} led by a node other than ${node}` },
  );
}

/** Creates the cluster's lease and state buckets (R3) as the pulse would; puts both streams' leaders on node `node`. */
async function bucketsOn(clusterId: string, node: number): Promise<void> {
  await openLeaseBucket(admin, clusterId, { ttlMs: TTL, replicas: 3 });
  await openStateBucket(admin, clusterId, { replicas: 3 });
  const s = streamsOf(clusterId);
  await forceOnto(s.lease, node);
  await forceOnto(s.state, node);
}

/**
 * The pulse's step-downs, `<stream>/<reason>`: with `reason` given, only those (the beat stream's
 * `with-lease` ones happen when a lease stream moved onto the beat stream's leader).
 */
async function stepdowns(p: Pulse, reason?: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await p.metrics.streamStepdowns.get()).values)
    if (reason === undefined || v.labels.reason === reason) out[`${v.labels.stream}/${v.labels.reason}`] = v.value;
  return out;
}

/** Longest time between two consecutive frames in [from, to] (the window's ends count as frames). */
function longestGap(frames: readonly SeenFrame[], from: number, to: number): number {
  const times = [from, ...frames.filter((f) => f.at > from && f.at < to).map((f) => f.at), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
}

describe('stream placement - a 3-node cluster, the leading pulse on node 0', () => {
  const C = 'placemove';
  let a: { pulse: Pulse; lines: LogLine[] };
  let seen: ReturnType<typeof collectFrames>;
  let term = 0;

  it("stream placement - streams on the leader's node moved off within the bound; a line, a count each", async () => {
    const s = streamsOf(C);
    // Both streams start elsewhere: the leader's first look finds nothing to do.
    await openLeaseBucket(admin, C, { ttlMs: TTL, replicas: 3 });
    await openStateBucket(admin, C, { replicas: 3 });
    await forceOnto(s.lease, 1);
    await forceOnto(s.state, 2);
    seen = collectFrames(await connect([cluster.urls[2]!]), C);
    a = await pulseOn(0, C, 'a');
    await waitFor(() => a.pulse.leaderStatus().is_leader, { timeoutMs: 10_000, message: 'a to lead' });
    term = a.pulse.leaderStatus().term;
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000, message: 'frames on node 2' });
    expect(await stepdowns(a.pulse)).toEqual({});

    for (const stream of [s.lease, s.state]) {
      const forcedAt = await forceOnto(stream, 0);
      const movedAt = await movedOff(stream, 0, MOVE_BOUND_MS + 5000);
      console.log(
        `stream placement: ${stream} forced onto node 0, moved off it after ` +
          `${(movedAt - forcedAt).toFixed(0)} ms (bound ${MOVE_BOUND_MS} ms)`,
      );
      expect(movedAt - forcedAt).toBeLessThanOrEqual(MOVE_BOUND_MS);
    }
    const colocated = { [`${s.lease}/colocated`]: 1, [`${s.state}/colocated`]: 1 };
    expect(await stepdowns(a.pulse, 'colocated')).toEqual(colocated);
    const said = a.lines.filter(
      (l) => l.msg.startsWith("asked the stream's leader to step down") && l.fields.reason === 'colocated',
    );
    expect(said.map((l) => [l.level, l.fields.stream, l.fields.server, l.fields.term])).toEqual([
      ['info', s.lease, `${NAME}-0`, term],
      ['info', s.state, `${NAME}-0`, term],
    ]);
  }, 90_000);

  it('stream placement - the step-downs cost no term and no slot: one term, no slot skipped or repeated', async () => {
    const s = streamsOf(C);
    const from = seen.frames[0]!.at;
    // A probe writes a key of the lease bucket every 20 ms from node 2, as a renewal would: how long
    // the lease KV does not take writes around each step-down.
    const probeKv = await (await connect([cluster.urls[2]!])).kv(clusterNames(C).leaseBucket, {
      create: false,
      timeoutMs: 500,
    });
    const failures: Array<{ from: number; to: number; err: string }> = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = now();
        await probeKv.put('placement-probe', new TextEncoder().encode(String(t))).catch((err: unknown) => {
          const last = failures.at(-1);
          if (last && t - last.to < 100) last.to = now();
          else failures.push({ from: t, to: now(), err: (err as Error).message.slice(0, 60) });
        });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Two more rounds of both streams forced onto node 0 (the rule allows one step-down per stream per 10 s).
    for (let round = 0; round < 2; round++) {
      await new Promise((r) => setTimeout(r, 10_500));
      await forceOnto(s.lease, 0);
      await forceOnto(s.state, 0);
      await movedOff(s.lease, 0, MOVE_BOUND_MS + 5000);
      await movedOff(s.state, 0, MOVE_BOUND_MS + 5000);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const to = now();
    probing = false;
    await probe;
    seen.stop();
    const frames = seen.frames.filter((f) => f.at >= from && f.at <= to);
    const counts = await stepdowns(a.pulse, 'colocated');
    const outage = a.lines.filter((l) => l.msg.startsWith('the lease KV has no stream leader'));
    const back = a.lines.filter((l) => l.msg.startsWith('the lease KV answers again')).map((l) => l.fields.outage_ms);
    const gap = longestGap(frames, from, to);
    const failedRenewals = a.lines.filter((l) => l.msg === 'lease operation failed').length;
    const windows = failures.map((f) => `${(f.to - f.from).toFixed(0)} ms (${f.err})`);
    console.log(
      `lease KV writes refused around the step-downs (the test's 20 ms probe, forced ones included): ` +
        `${windows.join(', ') || 'none'}; the leader's 'lease operation failed' lines: ${failedRenewals}`,
    );
    const slots = frames.map((f) => slotNo(f.frame));
    const holes = frames.slice(1).filter((f, i) => slotNo(f.frame) !== slots[i]! + 1);
    const skipped = holes.length;
    const downs = a.lines.filter((l) => l.msg.startsWith("asked the stream's leader to step down")).map((l) => l.at);
    const near = holes.map((f) => Math.min(...downs.map((d) => Math.abs(f.at - d))).toFixed(0));
    const skips = (await a.pulse.metrics.framesSkipped.get()).values.map((v) => `${v.labels.reason}=${v.value}`);
    console.log(
      `holes ${near.join(', ') || '-'} ms from the nearest step-down; ` +
        `the pulse's own skips: ${skips.join(', ') || '-'}`,
    );
    console.log(
      `stream placement: ${counts[`${s.lease}/colocated`]} lease and ${counts[`${s.state}/colocated`]} state ` +
        `step-downs over ${((to - from) / 1000).toFixed(1)} s: ${frames.length} frames, ` +
        `longest gap ${gap.toFixed(0)} ms (a slot is 167 ms), slots skipped ${skipped}, ` +
        `renewals on the outage grace ${outage.length} times (KV back after ${back.join(', ') || '-'} ms)`,
    );
    expect(counts).toEqual({ [`${s.lease}/colocated`]: 3, [`${s.state}/colocated`]: 3 });
    expect([...new Set(frames.map((f) => f.term))]).toEqual([term]);
    expect(a.pulse.leaderStatus()).toMatchObject({ is_leader: true, term });
    expect(gridProblems(frames)).toEqual([]);
    expect(seen.invalid).toEqual([]);
    expect(skipped).toBe(0);
    expect(gap).toBeLessThan(TTL + 1000);
  }, 120_000);

  it("stream placement - beat stream on the lease stream's leader: moved off (with-lease), a " +
    'line, a count', async () => {
    const s = streamsOf(C);
    const beat = `BACKBEAT_${C}_BEAT`;
    const leaseNode = await leaderOf(s.lease);
    expect(leaseNode).toBeGreaterThan(0); // the lease stream is off the leader's node 0
    const before = (await stepdowns(a.pulse, 'with-lease'))[`${beat}/with-lease`] ?? 0;
    await new Promise((r) => setTimeout(r, 10_500)); // one step-down per stream per 10 s: clear of earlier ones
    const forcedAt = await forceOnto(beat, leaseNode);
    const movedAt = await movedOff(beat, leaseNode, MOVE_BOUND_MS + 5000);
    console.log(
      `stream placement: ${beat} forced onto the lease stream's leader (node ${leaseNode}), moved off it after ` +
        `${(movedAt - forcedAt).toFixed(0)} ms (bound ${MOVE_BOUND_MS} ms)`,
    );
    expect(movedAt - forcedAt).toBeLessThanOrEqual(MOVE_BOUND_MS);
    expect(await leaderOf(s.lease)).toBe(leaseNode); // the lease stream itself stayed where it was
    expect((await stepdowns(a.pulse, 'with-lease'))[`${beat}/with-lease`]).toBe(before + 1);
    const said = a.lines.filter(
      (l) => l.msg.startsWith("asked the stream's leader to step down") && l.fields.stream === beat,
    );
    expect(said.at(-1)).toMatchObject({
      level: 'info',
      fields: { stream: beat, server: `${NAME}-${leaseNode}`, term, reason: 'with-lease' },
    });
    expect(a.pulse.leaderStatus()).toMatchObject({ is_leader: true, term });
  }, 60_000);
});

describe('stream placement - kill -9 of the leader’s NATS node', () => {
  /**
   * Two pulses, a on node 0 (leading) and b on node 1, an observer on node 2; the lease and state
   * streams are put on node 0 before a starts. Returns the gap on node 2 between the last frame of
   * a's term and the first frame of the next, after kill -9 of node 0 (a's connection closed with it).
   */
  async function killLeadersNode(
    clusterId: string,
    mode: 'off' | 'away-from-leader',
  ): Promise<{ gap: number; moved: boolean }> {
    const s = streamsOf(clusterId);
    await bucketsOn(clusterId, 0);
    const seen = collectFrames(await connect([cluster.urls[2]!]), clusterId);
    const a = await pulseOn(0, clusterId, `${clusterId}-a`, mode);
    await waitFor(() => a.pulse.leaderStatus().is_leader, { timeoutMs: 10_000, message: 'a to lead' });
    const b = await pulseOn(1, clusterId, `${clusterId}-b`, mode);
    await waitFor(() => b.pulse.leaderStatus().leader === `${clusterId}-a`, {
      timeoutMs: 10_000,
      message: 'b to follow a',
    });
    const oldTerm = a.pulse.leaderStatus().term;
    if (mode === 'away-from-leader') {
      await movedOff(s.lease, 0, MOVE_BOUND_MS + 5000);
      await movedOff(s.state, 0, 2 * MOVE_BOUND_MS + 5000);
    } else {
      // Nothing moves them: two looks' worth of time later, both are still on node 0.
      await new Promise((r) => setTimeout(r, 7000));
    }
    const leaders = [await leaderOf(s.lease), await leaderOf(s.state)];
    await cluster.waitForStreamCurrent(s.lease, 3, 10_000);
    await cluster.waitForStreamCurrent(s.state, 3, 10_000);
    await waitFor(() => seen.frames.filter((f) => f.term === oldTerm).length >= 6, {
      timeoutMs: 5000,
      message: 'frames on node 2',
    });
    // The leader's host goes: its NATS node (kill -9) and, with it, the pulse's only way to the
    // cluster (its connection closed, so it cannot move to a server it was told of, as a cut host cannot).
    await a.pulse.options.bus.close();
    await cluster.kill(0);
    const killedAt = now();
    const next = await waitFor(() => seen.frames.find((f) => f.term > oldTerm) ?? null, {
      timeoutMs: 30_000,
      intervalMs: 20,
      message: 'a frame of the next term',
    }).catch((err: unknown) => {
      const show = (l: LogLine): string =>
        `${(l.at - killedAt).toFixed(0)} ${l.level} ${l.msg} ${JSON.stringify(l.fields)}`;
      console.log(`b: ${JSON.stringify(b.pulse.leaderStatus())}\n${b.lines.map(show).join('\n')}`);
      console.log(`a: ${JSON.stringify(a.pulse.leaderStatus())}\n${a.lines.map(show).join('\n')}`);
      throw err;
    });
    const last = seen.frames.filter((f) => f.term === oldTerm && f.at < next.at).at(-1)!;
    const gap = next.at - last.at;
    await new Promise((r) => setTimeout(r, 1000));
    seen.stop();
    console.log(
      `stream placement ${mode}: lease/state stream leaders on nodes ${leaders.join('/')} at the kill; ` +
        'first frame of term ' +
        `${next.term} ${gap.toFixed(0)} ms after the last of term ${oldTerm} (bound TTL + 1 s = ${TTL + 1000} ms)`,
    );
    expect(gridProblems(seen.frames)).toEqual([]);
    expect(seen.invalid).toEqual([]);
    expect(b.pulse.leaderStatus()).toMatchObject({ is_leader: true });
    await b.pulse.stop();
    await cluster.restart(0);
    await a.pulse.stop();
    return { gap, moved: leaders.every((i) => i !== 0) };
  }

  it("stream placement - kill -9 of the leader's node: next term within TTL + 1 s; off: later", async () => {
    const on = await killLeadersNode('placekill', 'away-from-leader');
    const off = await killLeadersNode('placeoff', 'off');
    console.log(
      `stream placement: kill -9 of the leader's NATS node: gap ${on.gap.toFixed(0)} ms with away-from-leader, ` +
        `${off.gap.toFixed(0)} ms with off`,
    );
    expect(on.moved).toBe(true);
    expect(on.gap).toBeLessThanOrEqual(TTL + 1000);
    expect(off.moved).toBe(false);
  }, 180_000);
});
