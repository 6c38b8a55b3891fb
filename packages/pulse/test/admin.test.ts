import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import { buildAdminApp, Pulse } from '@backbeat/pulse';
import type { FastifyInstance } from 'fastify';
import { collectFrames } from './helpers.js';

let server: NatsServer;
let bus: NatsBus;
let leader: Pulse;
let follower: Pulse;
let app: FastifyInstance;
let followerApp: FastifyInstance;
const TOKEN = 's3cret-token';

beforeAll(async () => {
  server = await NatsServer.start();
  bus = await NatsBus.connect({ servers: server.url });
  // 200 BPM in 2-beat bars: a change waits at most one bar (600 ms) for its downbeat.
  leader = new Pulse({
    bus,
    clusterId: 'admin',
    nodeId: 'lead',
    bpm: 200,
    minBpm: 4,
    maxBpm: 240,
    barLength: 2,
    leaseTtlMs: 1000,
  });
  follower = new Pulse({ bus, clusterId: 'admin', nodeId: 'follow', maxBpm: 240, leaseTtlMs: 1000 });
  app = buildAdminApp(leader, { token: TOKEN });
  followerApp = buildAdminApp(follower, {});
  // Compile the routes before the pulses run: on a loaded host this blocks the event loop
  // for longer than a 1 s lease allows, and a leader that cannot renew in time steps down.
  await Promise.all([app.ready(), followerApp.ready()]);
  await leader.start();
  await waitFor(() => leader.leaderStatus().is_leader && leader.tempoMap, { message: 'leader with a map' });
  await follower.start();
});
afterAll(async () => {
  await app?.close();
  await followerApp?.close();
  await follower?.stop();
  await leader?.stop();
  await bus?.close();
  await server?.stop();
});

const post = (a: FastifyInstance, body: unknown, token?: string) =>
  a.inject({
    method: 'POST',
    url: '/tempo',
    payload: body as object,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

describe('pulse admin API - tempo changes (BACKBEAT-REQ-004)', () => {
  it('admin - 401 without a valid token when one is configured', async () => {
    expect((await post(app, { tempo_bpm: 210 })).statusCode).toBe(401);
    const wrong = await post(app, { tempo_bpm: 210 }, 'nope');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'BB_ERR_UNAUTHORIZED' });
  });

  it('admin - 400 names the rule: range, delta, malformed body', async () => {
    const range = await post(app, { tempo_bpm: 241 }, TOKEN);
    expect(range.statusCode).toBe(400);
    expect(range.json()).toMatchObject({ error: 'BB_ERR_TEMPO_OUT_OF_RANGE', rule: 'range', field: 'tempo_bpm' });
    const delta = await post(app, { tempo_bpm: 230 }, TOKEN);
    expect(delta.json()).toMatchObject({
      error: 'BB_ERR_TEMPO_DELTA_TOO_LARGE',
      message: expect.stringMatching(/at most 10%/),
    });
    const bad = await post(app, { tempo_bpm: 'fast' }, TOKEN);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/tempo_bpm/);
    expect((await post(app, { tempo_bpm: 210, extra: 1 }, TOKEN)).statusCode).toBe(400);
  });

  it(
    'admin - a change accepted on a follower is applied by the leader at the ' +
      'next downbeat; a second is refused while pending',
    async () => {
      const seen = collectFrames(bus, 'admin');
      await waitFor(() => seen.frames.length >= 2, { timeoutMs: 5000, message: 'the grid to run' });
      // Right after a downbeat, so the next one (where the change applies) is a bar away.
      const from = seen.frames.length;
      await waitFor(() => seen.frames.slice(from).some((f) => f.frame.downbeat && f.frame.phase === 'plan'), {
        timeoutMs: 5000,
        message: 'a downbeat',
      });
      const ok = await post(followerApp, { tempo_bpm: 220, justification: 'load' });
      expect(ok.statusCode).toBe(202);
      const again = await post(app, { tempo_bpm: 210 }, TOKEN);
      expect(again.json()).toMatchObject({ error: 'BB_ERR_TEMPO_CHANGE_PENDING' });
      const status = (await app.inject({ url: '/tempo' })).json();
      expect(status).toMatchObject({ pending_bpm: 220, can_change: false });
      await waitFor(() => seen.frames.some((f) => f.frame.tempo_bpm === 220), {
        timeoutMs: 10_000,
        message: 'a frame at 220 BPM',
      });
      const first = seen.frames.find((f) => f.frame.tempo_bpm === 220)!.frame;
      expect(first.downbeat).toBe(true);
      expect(first.phase).toBe('plan');
      const before = seen.frames.filter((f) => f.frame.beat_index < first.beat_index);
      expect(before.every((f) => f.frame.tempo_bpm === 200)).toBe(true);
      await waitFor(async () => (await app.inject({ url: '/tempo' })).json().pending_bpm === null, {
        timeoutMs: 5000,
        message: 'the pending change to clear',
      });
      expect((await app.inject({ url: '/tempo' })).json()).toMatchObject({ current_bpm: 220, can_change: true });
      seen.stop();
    },
  );
});

describe('pulse admin API - status endpoints', () => {
  it('admin - leader, drift, health, ready, live, metrics', async () => {
    expect((await app.inject({ url: '/leader' })).json()).toMatchObject({
      node_id: 'lead',
      is_leader: true,
      leader: 'lead',
      cluster_id: 'admin',
    });
    expect((await followerApp.inject({ url: '/leader' })).json()).toMatchObject({ is_leader: false, leader: 'lead' });
    await waitFor(async () => (await followerApp.inject({ url: '/drift' })).json().samples >= 2, { timeoutMs: 5000 });
    const drift = (await followerApp.inject({ url: '/drift' })).json();
    expect(drift).toMatchObject({ degradation_mode: false, within_limits: true });
    expect(Math.abs(drift.last_offset_ms)).toBeLessThan(50);
    expect((await app.inject({ url: '/health' })).json()).toMatchObject({
      status: 'healthy',
      is_leader: true,
      nats_connected: true,
    });
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/live' })).statusCode).toBe(200);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    for (const name of [
      'backbeat_beat_publish_duration_seconds',
      'backbeat_pulse_jitter_seconds',
      'backbeat_timer_drift_ratio',
      'backbeat_is_leader 1',
      'backbeat_beats_total',
      'backbeat_tempo_change_errors_total{reason="range"} 1',
      'backbeat_leadership_changes_total',
      'backbeat_frames_skipped_total',
    ]) {
      expect(metrics).toContain(name);
    }
    const nf = await app.inject({ url: '/nope' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toMatchObject({ error: 'BB_ERR_NOT_FOUND' });
  });
});
