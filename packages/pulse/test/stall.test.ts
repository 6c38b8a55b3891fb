import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { collectFrames, gridProblems } from './helpers.js';
import { StallProxy } from './stall-proxy.js';

let server: NatsServer;
const proxies: StallProxy[] = [];
const buses: NatsBus[] = [];
const pulses: Pulse[] = [];
const now = () => performance.timeOrigin + performance.now();

beforeAll(async () => {
  server = await NatsServer.start();
});
afterAll(async () => {
  for (const proxy of proxies) proxy.heal();
  await Promise.all(pulses.map((p) => p.stop()));
  await Promise.all(buses.map((b) => b.close()));
  await Promise.all(proxies.map((proxy) => proxy.stop()));
  await server?.stop();
});

// The two cases run side by side, each with a cluster and a stall proxy of its own. 300 BPM:
// the tempo is not the point, and frames come 2.5 times as often as at 120.
describe('pulse - no frame outlives its slot', () => {
  it.concurrent.each(['inline', 'thread'])(
    'stall - a leader behind a stalled connection (%s emitter) fences itself and drops it: ' +
      'no old-term frame reaches the wire after the new leader starts',
    async (emitter) => {
      const cluster = `stall-${emitter}`;
      const proxy = await StallProxy.start(Number(new URL(server.url).port));
      proxies.push(proxy);
      const direct = await NatsBus.connect({ servers: server.url });
      const viaProxy = await NatsBus.connect({ servers: proxy.url, reconnectTimeWaitMs: 100, timeoutMs: 1000 });
      const follower = await NatsBus.connect({ servers: server.url });
      buses.push(direct, viaProxy, follower);
      const seen = collectFrames(direct, cluster);
      const opts = { clusterId: cluster, bpm: 300, maxBpm: 300, leaseTtlMs: 1000 };
      const emitterNats =
        emitter === 'thread' ? { servers: proxy.url, reconnectTimeWaitMs: 100, timeoutMs: 1000 } : undefined;
      const old = new Pulse({ ...opts, bus: viaProxy, nodeId: 'old', emitterNats });
      pulses.push(old);
      await old.start();
      await waitFor(() => old.leaderStatus().is_leader, { message: 'old to lead' });
      const next = new Pulse({ ...opts, bus: follower, nodeId: 'next' });
      pulses.push(next);
      await next.start();
      await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000, message: 'frames from old' });
      const oldTerm = old.leaderStatus().term;

      proxy.stall();
      const stalledAt = now();
      // It fences itself within a couple of slots, long before its lease could expire.
      await waitFor(() => !old.leaderStatus().is_leader, { timeoutMs: 1000, message: 'old to fence itself' });
      expect(now() - stalledAt).toBeLessThan(1000);
      await waitFor(() => !old.readiness().ready, { timeoutMs: 1000, message: 'old to say it is not ready' });
      await waitFor(() => next.leaderStatus().is_leader, { timeoutMs: 4000, message: 'next to take over' });
      await waitFor(() => seen.frames.filter((f) => f.term > oldTerm).length >= 3, {
        timeoutMs: 3000,
        message: 'frames from next',
      });
      await waitFor(() => now() - stalledAt > 2500, { timeoutMs: 3000 });
      proxy.heal();
      const healedAt = now();
      await waitFor(() => old.readiness().ready && old.leaderStatus().leader === 'next', {
        timeoutMs: 5000,
        message: 'old to rejoin as a follower',
      });
      await waitFor(() => seen.frames.filter((f) => f.at > healedAt).length >= 6, { timeoutMs: 3000 });

      const firstNew = seen.frames.findIndex((f) => f.term > oldTerm);
      const lateOld = seen.frames.slice(firstNew).filter((f) => f.term <= oldTerm);
      expect(lateOld).toEqual([]);
      const late = seen.frames
        .filter((f) => f.at > stalledAt && f.at - Date.parse(f.frame.scheduled_at!) >= 100)
        .map(
          (f) =>
            `${f.term}:${f.frame.beat_index}.${f.frame.phase} ` +
            `+${(f.at - Date.parse(f.frame.scheduled_at!)).toFixed(0)} ms (stall at ` +
            `+${(f.at - stalledAt).toFixed(0)})`,
        );
      expect(late).toEqual([]); // nothing from the stall arrived late
      expect(gridProblems(seen.frames)).toEqual([]);
      const metrics = await old.metrics.registry.metrics();
      expect(metrics).toMatch(/backbeat_frames_skipped_total\{reason="stalled"\} 1/);
      expect(metrics).toMatch(/backbeat_is_leader 0/);
      seen.stop();
    },
  );
});
