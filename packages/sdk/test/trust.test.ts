import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionAt, slot, type TempoMap } from '@backbeat/core';
import { buildBeatFrame, TERM_HEADER } from '@backbeat/contracts';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { createClient, type BeatInfo, type Client } from '@backbeat/sdk';

let server: NatsServer;
const closers: Array<() => Promise<void>> = [];
const pulses = new Map<string, { p: Pulse; bus: NatsBus }>();
beforeAll(async () => {
  server = await NatsServer.start();
  // Each test has a cluster and a pulse of its own, all started here side by side: a new grid
  // begins at the next whole second, so each test would otherwise wait for it.
  await Promise.all(
    [
      ['hostile', 2000],
      ['stale', 2000],
      ['grid', 1000],
    ].map(async ([cluster, ttl]) => pulses.set(cluster as string, await kvPulse(cluster as string, ttl as number))),
  );
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await server?.stop();
});

/** A pulse with the KV lease, on a connection of its own; both stopped after the file. */
async function kvPulse(cluster: string, leaseTtlMs: number): Promise<{ p: Pulse; bus: NatsBus }> {
  const bus = await NatsBus.connect({ servers: server.url });
  const p = new Pulse({
    bus,
    clusterId: cluster,
    nodeId: `pulse-${cluster}`,
    bpm: 240,
    maxBpm: 1000,
    barLength: 4,
    leaseTtlMs,
  });
  closers.push(async () => {
    await p.stop();
    await bus.close();
  });
  await p.start();
  return { p, bus };
}

async function client(cluster: string, timing: 'grid' | 'frames' = 'frames'): Promise<Client> {
  const c = createClient({ clusterId: cluster, agentId: 'agent:trust-1', nats: server.url, timing });
  await c.start();
  closers.push(() => c.stop());
  return c;
}

const enc = new TextEncoder();

describe('sdk trust - the lease and the tempo map, not the header', () => {
  it(
    'trust - a hostile publisher (huge term, beat 1,000,000, non-numeric ' +
      'term) changes nothing; its frames are counted',
    async () => {
      const cluster = 'hostile';
      const { p } = pulses.get(cluster)!;
      const c = await client(cluster);
      const seen: Array<{ beat: number; phase: string; info: BeatInfo }> = [];
      c.onPhase((f, info) => seen.push({ beat: f.beat_index, phase: f.phase, info }));
      await waitFor(
        () => seen.filter((s) => s.info.source === 'leader').length >= 3 && c.health().lease.state === 'held',
        { timeoutMs: 8000, message: 'leader frames and the lease' },
      );
      const term = c.health().lease.term!;
      expect(c.health().lease.leader).toBe(`pulse-${cluster}`);
      const map = p.tempoMap as TempoMap;
      const hostile = await NatsBus.connect({ servers: server.url });
      closers.push(() => hostile.close());
      const send = (beat: number, termHeader: string) => {
        const now = performance.timeOrigin + performance.now();
        const pos = slot(map, beat, 0);
        // The frame claims its slot starts now: only the client's own map can tell it is off.
        const f = {
          ...buildBeatFrame(cluster, map, pos, '7ffd:0001:abcd'),
          scheduled_at: new Date(now).toISOString(),
          deadline_at: new Date(now + 5000).toISOString(),
        };
        hostile.publish(subjects(cluster).beat, enc.encode(JSON.stringify(f)), {
          headers: { [TERM_HEADER]: termHeader },
        });
      };
      const current = positionAt(map, performance.timeOrigin + performance.now())!.beatIndex;
      const before = seen.length;
      const dropsBefore = c.metrics().framesDropped;
      send(current + 40, '999999999');
      send(1_000_000, '999999999');
      send(1_000_000, String(term)); // the real term, copied from any frame: still off the grid
      send(current + 40, String(term));
      send(current + 1, 'abc');
      await hostile.flush();
      await waitFor(() => seen.slice(before).filter((s) => s.info.source === 'leader').length >= 6, {
        timeoutMs: 8000,
        message: 'six more leader slots',
      });
      const after = seen.slice(before);
      expect(after.every((s) => s.beat < current + 10)).toBe(true); // nothing of the hostile beats fired
      const keys = seen.map((s) => s.beat * 3 + ['plan', 'execute', 'review'].indexOf(s.phase));
      expect(keys).toEqual(keys.map((_, i) => keys[0]! + i)); // every slot once, in order: nothing extra
      const d = c.metrics().framesDropped;
      const delta = (r: string) => (d[r] ?? 0) - (dropsBefore[r] ?? 0);
      expect(delta('bad_term')).toBe(2);
      expect(delta('off_grid')).toBe(2);
      expect(delta('malformed')).toBe(1);
      expect(c.health().framesDropped).toMatchObject({
        bad_term: expect.any(Number),
        off_grid: expect.any(Number),
        malformed: 1,
      });
      expect(c.health().lease.term).toBe(term);
      expect(c.metrics().slotsSkipped).toBe(0);
    },
  );

  it('trust - a frame arriving after its deadline is dropped as stale; the clock offset is reported', async () => {
    const cluster = 'stale';
    const { p } = pulses.get(cluster)!;
    const c = await client(cluster);
    await waitFor(() => c.health().lease.state === 'held' && c.currentBeat >= 3, { timeoutMs: 8000 });
    const map = p.tempoMap as TempoMap;
    const term = c.health().lease.term!;
    const bus = await NatsBus.connect({ servers: server.url });
    closers.push(() => bus.close());
    const old = positionAt(map, performance.timeOrigin + performance.now())!.beatIndex - 2;
    bus.publish(
      subjects(cluster).beat,
      enc.encode(JSON.stringify(buildBeatFrame(cluster, map, slot(map, old, 0), '7ffd:0001:abcd'))),
      { headers: { [TERM_HEADER]: String(term) } },
    );
    await waitFor(() => (c.metrics().framesDropped.stale ?? 0) >= 1, { timeoutMs: 3000, message: 'a stale drop' });
    const h = c.health();
    expect(h.clockOffsetMs).not.toBeNull();
    expect(Math.abs(h.clockOffsetMs!)).toBeLessThan(50); // one host: only the network delay
    expect(h.tempoMapSource).toBe('kv');
  });
});

describe('sdk grid timing', () => {
  it('grid - fires every slot at its instant, the leader confirms; losing the leader changes only health', async () => {
    const cluster = 'grid';
    const { p } = pulses.get(cluster)!;
    const c = await client(cluster, 'grid');
    const seen: Array<{ key: number; info: BeatInfo }> = [];
    c.onPhase((f, info) => seen.push({ key: f.beat_index * 3 + ['plan', 'execute', 'review'].indexOf(f.phase), info }));
    await waitFor(() => c.metrics().framesConfirmed >= 4, {
      timeoutMs: 8000,
      message: 'grid slots confirmed by the leader',
    });
    expect(c.health()).toMatchObject({ timing: 'grid', timingFallback: null, localDegradation: false });
    const grid = seen.filter((s) => s.info.source === 'grid');
    expect(grid.length).toBeGreaterThanOrEqual(4);
    for (const s of grid) expect(s.info.receivedAt).toBeGreaterThanOrEqual(s.info.scheduledAt); // never early
    await p.stop(); // the leader goes away
    const n = seen.length;
    await waitFor(() => seen.length >= n + 6, { timeoutMs: 5000, message: 'slots without a leader' });
    expect(seen.slice(n).every((s) => s.info.source === 'grid')).toBe(true);
    expect(c.health().localDegradation).toBe(true);
    const keys = seen.map((s) => s.key);
    expect(keys).toEqual(keys.map((_, i) => keys[0]! + i));
  });
});
