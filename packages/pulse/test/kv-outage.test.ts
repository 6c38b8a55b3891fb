/**
 * The KV outage grace (docs/decisions/0002-kv-outage-grace.md) on a real 3-node nats-server cluster
 * (every bucket R3): a kill -9 of the NATS node leading the lease bucket's stream under two pulses.
 * nats-server 2.9 takes 4 to 9 s to elect a new stream leader; the beat must resume on the wire
 * within the lease TTL + 1 s, with no frame duplicated or going backwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster, waitFor } from '@backbeat/testing';
import { clusterNames, NatsBus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { beatStreamNames } from '@backbeat/pulse/internal';
import { collectFrames, gridProblems, slotNo, type SeenFrame } from './helpers.js';

const CLUSTER = 'outage';
const TTL = 2000;
let cluster: NatsCluster;
const buses: NatsBus[] = [];
const pulses: Pulse[] = [];

beforeAll(async () => {
  cluster = await NatsCluster.start(3, { name: 'kvoutage' });
});
afterAll(async () => {
  await Promise.allSettled(pulses.map((p) => p.stop()));
  await Promise.allSettled(buses.map((b) => b.close()));
  await cluster?.stop();
});

async function connect(servers: string[]): Promise<NatsBus> {
  const b = await NatsBus.connect({ servers, reconnectTimeWaitMs: 100, pingIntervalMs: 1000 });
  buses.push(b);
  return b;
}

async function pulse(nodeId: string): Promise<Pulse> {
  const p = new Pulse({
    bus: await connect(cluster.urls),
    clusterId: CLUSTER,
    nodeId,
    bpm: 120,
    maxBpm: 120,
    leaseTtlMs: TTL,
    replicas: 3,
  });
  pulses.push(p);
  await p.start();
  return p;
}

/**
 * Longest time between two frames on the wire in [from, to], merging observers (a slot counts once, when first seen).
 */
function longestGap(frames: readonly SeenFrame[], from: number, to: number): number {
  const first = new Map<number, number>();
  for (const f of frames) {
    const k = slotNo(f.frame);
    if (!first.has(k) || first.get(k)! > f.at) first.set(k, f.at);
  }
  const times = [from, ...[...first.values()].filter((t) => t > from && t < to).sort((a, b) => a - b), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
}

describe('pulse - a NATS node kill under two pulses', () => {
  it('kv outage - kill -9 of the lease stream leader: frames resume ' +
    'within TTL + 1 s, none duplicated or backwards', async () => {
    const a = await pulse('a');
    await waitFor(() => a.leaderStatus().is_leader, { timeoutMs: 10_000, message: 'a to lead' });
    const b = await pulse('b');
    await waitFor(() => b.leaderStatus().leader === 'a', { timeoutMs: 10_000, message: 'b to follow a' });
    const stream = `KV_${clusterNames(CLUSTER).leaseBucket}`;
    await cluster.waitForStreamCurrent(stream, 3, 20_000);
    // The placed steady state (docs/spec.md §7 Election, terms and fencing, "Stream placement"): the beat
    // stream is led away from the lease stream's leader, so this kill costs the lease's outage grace only.
    // Until the leader's placement has looked (a few seconds after it takes the lease), one kill can
    // cost both elections at once; that window is stated in docs/operations.md.
    const beatStream = beatStreamNames(CLUSTER).stream;
    const { victim } = await waitFor(
      async () => {
        const [lease, beat] = [await cluster.streamLeader(stream), await cluster.streamLeader(beatStream)];
        return lease !== beat ? { victim: lease } : null; // (an index 0 is falsy)
      },
      { timeoutMs: 20_000, intervalMs: 250, message: 'the beat stream led away from the lease stream leader' },
    );
    // One observer on each surviving node: what clients there see, without reconnections of their own.
    const seen = await Promise.all(
      cluster.urls.filter((_, i) => i !== victim).map(async (url) => collectFrames(await connect([url]), CLUSTER)),
    );
    await waitFor(() => seen.every((s) => s.frames.length >= 6), {
      timeoutMs: 5000,
      message: 'frames at every observer',
    });
    const killedAt = performance.timeOrigin + performance.now();
    await cluster.kill(victim);
    // The stream elects a new leader (4 to 9 s on nats-server 2.9); watch 3 s of frames after that.
    await cluster.streamLeader(stream, 20_000);
    const electedAt = performance.timeOrigin + performance.now();
    await waitFor(() => performance.timeOrigin + performance.now() > electedAt + 3000, {
      timeoutMs: 5000,
      intervalMs: 100,
    });
    const end = performance.timeOrigin + performance.now();
    const all = seen.flatMap((s) => s.frames);
    const gap = longestGap(all, killedAt, end);
    const terms = [...new Set(all.filter((f) => f.at > killedAt).map((f) => f.term))];
    console.log(
      `kill -9 of the lease stream leader: longest gap ${gap.toFixed(0)} ms, ` +
        `election done ${(electedAt - killedAt).toFixed(0)} ms after the kill, terms after it ${terms.join(',')}, ` +
        `leaders a=${a.leaderStatus().is_leader} b=${b.leaderStatus().is_leader}`,
    );
    for (const s of seen) {
      expect(gridProblems(s.frames)).toEqual([]);
      expect(s.invalid).toEqual([]);
    }
    expect(gap).toBeLessThanOrEqual(TTL + 1000);
    await waitFor(() => a.leaderStatus().is_leader !== b.leaderStatus().is_leader, {
      timeoutMs: 5000,
      message: 'exactly one leader',
    });
    for (const s of seen) s.stop();
    await cluster.restart(victim);
  }, 60_000);
});
