/**
 * Clients creating one bucket at the same moment on a single nats-server, as three pulses starting
 * together do: every open succeeds (on 2.9 the loser of two identical creates can be answered
 * "subjects overlap with an existing stream", the winner's: nats-create.ts looks it up); a stream
 * whose subjects truly overlap another stream's is still refused. Also run on nats-server 2.9.10
 * (scripts/test-nats-2.9.mjs).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { NatsBus } from '@backbeat/transport';

describe('kv concurrent create - one bucket created by several clients at once on one server', () => {
  const nats = useNatsFixture();
  const buses: NatsBus[] = [];
  afterAll(async () => {
    await Promise.allSettled(buses.map((b) => b.close()));
  });

  it('kv concurrent create - 20 buckets, each opened by eight clients at once: every open succeeds', async () => {
    for (let i = 0; i < 8; i++) buses.push(await NatsBus.connect({ servers: nats.url }));
    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      const opened = await Promise.allSettled(buses.map((bus) => bus.kv(`single_concurrent_${i}`, { history: 1 })));
      for (const r of opened) if (r.status === 'rejected') failures.push(`bucket ${i}: ${(r.reason as Error).message}`);
    }
    expect(failures).toEqual([]);
  });

  it('kv concurrent create - a true overlap with the subjects of another stream is refused', async () => {
    await nats.bus.ensureStream({ name: 'OVERLAP_A', subjects: ['overlap.>'] });
    await expect(nats.bus.ensureStream({ name: 'OVERLAP_B', subjects: ['overlap.b'] })).rejects.toThrow(/overlap/);
    const jsm = await nats.bus.jsm();
    await expect(jsm.streams.info('OVERLAP_B')).rejects.toThrow(/stream not found/);
  });
});
