import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';

let server: NatsServer;
let bus: NatsBus;
beforeAll(async () => {
  server = await NatsServer.start();
  // Default reconnect wait: the connection is down long enough for a clock probe to be sent meanwhile.
  bus = await NatsBus.connect({ servers: server.url });
});
afterAll(async () => {
  await bus?.close();
  await server?.stop();
});

describe('pulse - stop', () => {
  it('stop - right after a NATS restart, stop does not wait out a request sent while the connection was down', async () => {
    const pulse = new Pulse({ bus, clusterId: 'stopping', nodeId: 's1', bpm: 300, maxBpm: 600, barLength: 4 });
    let stopped = false;
    try {
      await pulse.start();
      await waitFor(() => pulse.leaderStatus().role === 'leader' && pulse.publishedCount > 0, { timeoutMs: 8000, message: 'the pulse to lead' });
      await server.restart();
      // The connection is back, and the clock check probed (every second) through the restart.
      await waitFor(() => bus.status().connected, { timeoutMs: 5000, message: 'the connection back' });
      await new Promise((r) => setTimeout(r, 1000));
      const t = performance.now();
      await pulse.stop();
      stopped = true;
      // A JetStream request lost in the restart times out after 5 s; the CLI's shutdown deadline is 1.8 s.
      expect(performance.now() - t).toBeLessThan(1500);
    } finally {
      if (!stopped) await pulse.stop();
    }
  });
});
