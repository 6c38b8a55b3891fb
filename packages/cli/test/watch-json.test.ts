/**
 * `backbeat watch --json` against a real pulse: the callback lateness it prints is bounded at
 * 50 ms, a wall-clock bound a busy CPU breaks, so this file runs alone (vitest.config.ts); the
 * other CLI tests need no such care and run beside other files.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { NatsBus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const nats = useNatsFixture();

describe('backbeat CLI - against nats-server', () => {
  it('watch --json - one line per (beat, phase) callback', async () => {
    const bus = await NatsBus.connect({ servers: nats.url });
    const pulse = new Pulse({ bus, clusterId: 'watch', bpm: 240, maxBpm: 1000, elector: 'single' });
    await pulse.start();
    const w = ManagedProcess.node(bin, ['watch', '--cluster', 'watch', '--nats', nats.url, '--json']);
    try {
      await waitFor(() => w.stdout.split('\n').filter(Boolean).length >= 6, { timeoutMs: 8000, message: 'six lines' });
      const lines = w.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      for (const l of lines) {
        expect(Object.keys(l)).toEqual(
          expect.arrayContaining(['beat_index', 'phase', 'source', 'scheduled_at', 'lateness_ms']),
        );
        expect(l.source).toBe('leader');
        expect(l.lateness_ms).toBeLessThan(50);
      }
      const slots = lines.map((l) => l.beat_index * 3 + ['plan', 'execute', 'review'].indexOf(l.phase));
      expect(slots).toEqual(slots.map((_, i) => slots[0]! + i));
    } finally {
      await w.stop();
      await pulse.stop();
      await bus.close();
    }
  });
});
