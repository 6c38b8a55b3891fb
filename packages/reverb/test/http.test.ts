import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';
import { Reverb, buildReverbApp } from '@backbeat/reverb';
import type { FastifyInstance } from 'fastify';
import { startPulse } from './helpers.js';

let server: NatsServer;
let bus: NatsBus;
let reverb: Reverb;
let app: FastifyInstance;
let pulse: Awaited<ReturnType<typeof startPulse>> | undefined;
const enc = new TextEncoder();

beforeAll(async () => {
  server = await NatsServer.start();
  pulse = await startPulse(server.url, 'http', 240, 4);
  bus = await NatsBus.connect({ servers: server.url, reconnectTimeWaitMs: 100 });
  reverb = new Reverb({ bus, clusterId: 'http', nodeId: 'h', signatures: 'off' });
  await reverb.start();
  app = buildReverbApp(reverb);
  await waitFor(() => reverb.currentBeat >= 0, { timeoutMs: 5000 });
});
afterAll(async () => {
  await app?.close();
  await reverb?.stop();
  // After the restart in the last test the pulse's connection may still be retrying; stopped
  // disconnected, the pulse waits about 5 s for it. Give it a moment to come back first.
  if (pulse)
    await waitFor(() => pulse!.bus.status().connected, { timeoutMs: 3000, message: "the pulse's connection" }).catch(
      () => {},
    );
  await pulse?.stop();
  await bus?.close();
  await server?.stop();
});

describe('reverb HTTP API', () => {
  it('http - windows list and one window with each agent state; JSON 404 for an unknown id', async () => {
    const beat = reverb.currentBeat;
    await bus.publishDurable(
      subjects('http').status,
      enc.encode(
        JSON.stringify({
          type: 'backbeat.statusclaim.v1',
          agent_id: 'agent:h1',
          beat_index: beat,
          state: 'executing',
          hlc: '7ffd:0001:abcd',
        }),
      ),
    );
    await waitFor(() => reverb.windows().some((w) => w.agents === 1), { timeoutMs: 3000 });
    const list = (await app.inject({ url: '/api/v1/windows' })).json();
    expect(list.total_count).toBeGreaterThanOrEqual(1);
    const w = list.windows.find((x: { agents_reporting: number }) => x.agents_reporting === 1);
    const one = (await app.inject({ url: `/api/v1/windows/${w.window_id}` })).json();
    expect(one.agents['agent:h1'].last).toBe('executing');
    const missing = await app.inject({ url: '/api/v1/windows/ffffffffffffffffffffffffffffffff' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'BB_ERR_NOT_FOUND', window_id: 'ffffffffffffffffffffffffffffffff' });
  });

  it('http - status reports a real uptime; reports query is validated', async () => {
    const a = (await app.inject({ url: '/api/v1/status' })).json();
    await waitFor(async () => (await app.inject({ url: '/api/v1/status' })).json().uptime_seconds > a.uptime_seconds, {
      timeoutMs: 3000,
      message: 'uptime to grow',
    });
    expect(a).toMatchObject({ cluster_id: 'http', node_id: 'h', nats_connected: true, bar_length: 4 });
    expect((await app.inject({ url: '/api/v1/reports?limit=abc' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/reports?limit=5' })).json()).toMatchObject({ reports: expect.any(Array) });
  });

  it('http - /ready is 503 while NATS is down and 200 again after it returns', async () => {
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(200);
    await server.halt();
    await waitFor(async () => (await app.inject({ url: '/ready' })).statusCode === 503, {
      timeoutMs: 5000,
      message: '503',
    });
    expect((await app.inject({ url: '/ready' })).json()).toMatchObject({
      ready: false,
      nats_connected: false,
      reason: 'NATS connection lost',
    });
    await server.restart();
    await waitFor(async () => (await app.inject({ url: '/ready' })).statusCode === 200, {
      timeoutMs: 10_000,
      message: '200 again',
    });
  });
});
