import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NatsFixture, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';

describe('harness - nats fixture', () => {
  it('nats fixture - stops what it tracks last-first, then the connections, then the server, once', async () => {
    const nats = await NatsFixture.start();
    const order: string[] = [];
    const extra = await nats.connect({ name: 'extra' });
    nats.track({ stop: async () => void order.push(`first tracked (extra connected: ${extra.status().connected})`) });
    nats.track({ close: () => void order.push('second tracked') });
    nats.cleanup(() => order.push('cleanup'));
    const got: string[] = [];
    nats.bus.subscribe('fx.echo', (m) => got.push(new TextDecoder().decode(m.data)));
    await nats.bus.flush();
    extra.publish('fx.echo', new TextEncoder().encode('hello'));
    await waitFor(() => got.length === 1, { message: 'the message from the extra connection' });

    await nats.stop();
    expect(order).toEqual(['cleanup', 'second tracked', 'first tracked (extra connected: true)']);
    expect(extra.status().connected).toBe(false);
    expect(nats.bus.status().connected).toBe(false);
    expect(nats.server.running).toBe(false);
    expect(existsSync(nats.server.dir)).toBe(false);
    await nats.stop(); // idempotent
    expect(order).toHaveLength(3);
  });

  it('nats fixture - a failing cleanup step is reported after every other step ran', async () => {
    const nats = await NatsFixture.start();
    let laterStopped = false;
    nats.cleanup(() => {
      laterStopped = true;
    });
    nats.cleanup(() => {
      throw new Error('cannot stop');
    });
    await expect(nats.stop()).rejects.toThrow(/nats fixture: 1 cleanup step\(s\) failed/);
    expect(laterStopped).toBe(true);
    expect(nats.server.running).toBe(false);
  });

  it('nats fixture - server and connection options reach the server and the own connection', async () => {
    await using nats = await NatsFixture.start({
      server: { config: 'authorization { token: "t0ken" }' },
      bus: { token: 't0ken', name: 'own' },
    });
    expect(nats.bus.status().connected).toBe(true);
    await expect(nats.connect({ maxReconnectAttempts: 0 })).rejects.toThrow();
    expect((await nats.connect({ token: 't0ken' })).status().connected).toBe(true);
  });
});

describe('harness - useNatsFixture', () => {
  const nats = useNatsFixture();
  it('useNatsFixture - one server and connection for the file, ready in the tests', async () => {
    expect(nats.url).toBe(nats.server.url);
    expect(nats.bus.status().connected).toBe(true);
    const other = nats.track(await nats.connect());
    expect(other.status().connected).toBe(true);
  });
});
