import { NatsServer } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import { runConformance } from './conformance.js';

runConformance('nats', async () => {
  const server = await NatsServer.start();
  return {
    open: () => NatsBus.connect({ servers: server.url }),
    teardown: () => server.stop(),
  };
});

import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import type { BusEvent } from '@backbeat/transport';

describe('nats bus - connection loss', () => {
  it('nats bus - reconnects after the server restarts; subscriptions keep working; publishes while down are dropped', async () => {
    await using server = await NatsServer.start();
    const bus = await NatsBus.connect({ servers: server.url, reconnectTimeWaitMs: 100, pingIntervalMs: 1000 });
    try {
      const events: BusEvent['type'][] = [];
      bus.onStatus((e) => events.push(e.type));
      const got: string[] = [];
      bus.subscribe('beat.x', (m) => got.push(new TextDecoder().decode(m.data)));
      await bus.flush();

      await server.halt();
      await waitFor(() => !bus.status().connected, { message: 'the disconnect' });
      bus.publish('beat.x', new TextEncoder().encode('stale')); // dropped, never delivered late
      await server.restart();
      await waitFor(() => bus.status().connected, { timeoutMs: 10_000, message: 'the reconnect' });
      expect(events).toContain('disconnect');
      expect(events).toContain('reconnect');
      expect(bus.status().reconnects).toBe(1);

      bus.publish('beat.x', new TextEncoder().encode('fresh'));
      await waitFor(() => got.includes('fresh'), { message: 'a message after the reconnect' });
      expect(got).toEqual(['fresh']);
    } finally {
      await bus.close();
    }
  });

  it('nats bus - maps options with unlimited reconnects and short pings (SPEC 12)', async () => {
    const { natsConnectOptions } = await import('@backbeat/transport');
    const o = natsConnectOptions({ servers: 'nats://127.0.0.1:1', user: 'u', pass: 'p', tls: { caFile: '/ca.pem' } });
    expect(o).toMatchObject({ maxReconnectAttempts: -1, pingInterval: 5000, maxPingOut: 3, user: 'u', pass: 'p', tls: { caFile: '/ca.pem' } });
  });
});
