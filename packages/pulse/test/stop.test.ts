import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { Pulse } from '@backbeat/pulse';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();

describe('pulse - stop', () => {
  it(
    'stop - right after a NATS restart, stop does not wait out a ' + 'request sent while the connection was down',
    async () => {
      // Default reconnect wait: the connection is down long enough for a clock probe to be sent meanwhile.
      const bus = await fx.connect();
      const pulse = fx.track(
        new Pulse({ bus, clusterId: 'stopping', nodeId: 's1', bpm: 300, maxBpm: 600, barLength: 4 }),
      );
      await pulse.start();
      await waitFor(() => pulse.leaderStatus().role === 'leader' && pulse.publishedCount > 0, {
        timeoutMs: 8000,
        message: 'the pulse to lead',
      });
      await fx.server.restart();
      // The connection is back, and the clock check probed (every second) through the restart.
      await waitFor(() => bus.status().connected, { timeoutMs: 5000, message: 'the connection back' });
      await new Promise((r) => setTimeout(r, 1000));
      const t = performance.now();
      await pulse.stop(); // stopped again (a no-op) by the fixture after the file, also when this fails
      // A JetStream request lost in the restart times out after 5 s; the CLI's shutdown deadline is 1.8 s.
      expect(performance.now() - t).toBeLessThan(1500);
    },
  );
});
