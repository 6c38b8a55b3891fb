import { describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { clusterNames, encodeJson, openPresenceBucket, readPresence, startPresence } from '../src/index.js';

describe('presence - on nats-server', () => {
  const nats = useNatsFixture();

  it(
    'presence - nodes announce themselves, refresh on their clock and ' +
      'when asked, and a clean stop removes the entry',
    async () => {
      const { bus } = nats;
      const clock = new FakeClock(Date.parse('2026-12-01T00:00:00Z'));
      let term = 1;
      const pulse = await startPresence(bus, 'pres', {
        kind: 'pulse',
        nodeId: 'p1',
        host: 'h1',
        clock,
        everyMs: 1000,
        info: () => ({ role: 'leader', term }),
      });
      const reverb = await startPresence(bus, 'pres', {
        kind: 'reverb',
        nodeId: 'r1',
        host: 'h1',
        clock,
        info: () => ({}),
      });
      const kv = await openPresenceBucket(bus, 'pres');
      await kv.put('pulse.junk', encodeJson('not a record'));
      let seen = await readPresence(bus, 'pres');
      expect(seen.map((r) => `${r.kind}/${r.node_id}`)).toEqual(['pulse/p1', 'reverb/r1']);
      expect(seen[0]!.info).toEqual({ role: 'leader', term: 1 });
      term = 2;
      clock.advance(1000);
      await expect.poll(async () => (await readPresence(bus, 'pres'))[0]?.info.term, { timeout: 5000 }).toBe(2);
      // refresh(): written now, with the clock standing still; the next refresh is everyMs after it.
      term = 3;
      pulse.refresh();
      await expect.poll(async () => (await readPresence(bus, 'pres'))[0]?.info.term, { timeout: 5000 }).toBe(3);
      term = 4;
      clock.advance(999);
      await new Promise((r) => setTimeout(r, 100));
      expect((await readPresence(bus, 'pres'))[0]?.info.term).toBe(3);
      clock.advance(1);
      await expect.poll(async () => (await readPresence(bus, 'pres'))[0]?.info.term, { timeout: 5000 }).toBe(4);
      await pulse.stop();
      await reverb.stop();
      seen = await readPresence(bus, 'pres');
      expect(seen).toEqual([]);
      expect((await kv.settings()).ttlMs).toBeGreaterThan(0);
      expect(clusterNames('pres').presenceBucket).toBe('backbeat_pres_presence');
    },
  );
});
