/**
 * Services creating one replicated bucket at the same moment on a fresh 3-node cluster (two
 * pulses and reverb started together by the deploy): each gets the bucket, as the services open it
 * (retrying passing errors), and none sees it "not found" (docs/spec.md §12 Known pitfalls).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster } from '@backbeat/testing';
import { NatsBus, retryTransient } from '@backbeat/transport';

describe('kv concurrent create - one R3 bucket created by two clients at once', () => {
  let cluster: NatsCluster;
  let buses: NatsBus[] = [];
  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    buses = await Promise.all(cluster.urls.map((url) => NatsBus.connect({ servers: url })));
  }, 60_000);
  afterAll(async () => {
    for (const b of buses) await b.close();
    await cluster?.stop();
  });

  it('kv concurrent create - 20 buckets, each created by three clients on the ' +
    'three nodes at once: every open succeeds, with 3 replicas', async () => {
    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      const opened = await Promise.allSettled(
        buses.map((bus) =>
          retryTransient(() => bus.kv(`concurrent_${i}`, { ttlMs: 15_000, history: 1, replicas: 3 }), {
            what: 'opening the bucket',
            forMs: 20_000,
          }),
        ),
      );
      for (const r of opened) if (r.status === 'rejected') failures.push(`bucket ${i}: ${(r.reason as Error).message}`);
      if (opened.every((r) => r.status === 'fulfilled')) {
        const s = await opened[0]!.value.settings();
        expect(s.replicas).toBe(3);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
