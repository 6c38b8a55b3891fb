import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { Pulse } from '@backbeat/pulse';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { collectFrames, gridProblems } from './helpers.js';

const nats = useNatsFixture();
const bus = () => nats.connect();
// 300 BPM: the tempo is not the point, and 12 frames take 0.8 s rather than 2 s at 120.
const BPM = 300;

async function node(cluster: string, nodeId: string): Promise<Pulse> {
  const p = new Pulse({ bus: await bus(), clusterId: cluster, nodeId, bpm: BPM, maxBpm: BPM, leaseTtlMs: 1000 });
  nats.track(p);
  await p.start();
  return p;
}

// The tests run side by side, each on a cluster of its own.
describe.concurrent('pulse - election on nats-server', () => {
  it.each([2, 3])('election - %i nodes elect exactly one leader; frames follow one grid', async (n) => {
    const cluster = `elect${n}`;
    const seen = collectFrames(await bus(), cluster);
    const nodes = await Promise.all(Array.from({ length: n }, (_, i) => node(cluster, `n${i}`)));
    await waitFor(() => seen.frames.length >= 12, { timeoutMs: 8000, message: '12 frames' });
    const leaders = nodes.filter((p) => p.leaderStatus().is_leader);
    expect(leaders).toHaveLength(1);
    const term = leaders[0]!.leaderStatus().term;
    for (const p of nodes)
      await waitFor(() => p.leaderStatus().leader === leaders[0]!.options.nodeId, {
        message: 'followers to know the leader',
      });
    expect(new Set(seen.frames.map((f) => f.term))).toEqual(new Set([term]));
    expect(gridProblems(seen.frames)).toEqual([]);
    expect(seen.invalid).toEqual([]);
    const first = seen.frames[0]!.frame;
    expect(first).toMatchObject({ cluster_id: cluster, tempo_bpm: BPM, bar_length: 8 });
    expect(nodes.reduce((a, p) => a + p.publishedCount, 0)).toBe(leaders[0]!.publishedCount);
    seen.stop();
  });

  it('election - a stopped leader hands over at once; terms grow; no slot is sent twice', async () => {
    const cluster = 'handover';
    const seen = collectFrames(await bus(), cluster);
    const a = await node(cluster, 'a');
    await waitFor(() => a.leaderStatus().is_leader, { message: 'a to lead' });
    const b = await node(cluster, 'b');
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000, message: 'frames from a' });
    const termA = a.leaderStatus().term;
    const stoppedAt = performance.timeOrigin + performance.now();
    await a.stop();
    await waitFor(() => b.leaderStatus().is_leader, { timeoutMs: 3000, message: 'b to lead' });
    const tookOver = performance.timeOrigin + performance.now() - stoppedAt;
    expect(tookOver).toBeLessThan(1000); // released lease: no TTL wait
    await waitFor(() => seen.frames.some((f) => f.term > termA), {
      timeoutMs: 3000,
      message: 'a frame of the new term',
    });
    await waitFor(() => seen.frames.filter((f) => f.term > termA).length >= 3, { timeoutMs: 3000 });
    expect(b.leaderStatus().term).toBeGreaterThan(termA);
    expect(gridProblems(seen.frames)).toEqual([]);
    seen.stop();
  });
});
