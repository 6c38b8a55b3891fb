/**
 * KV reads with `reads: 'first-answer'` (nats-last-msg.ts): the same entries as nats.js's own
 * get, deletes as null (3 loopback nodes); and on three hosts of their own (network namespaces,
 * NetCluster), every read answered while the host of one copy is cut off: a direct get alone is
 * sometimes routed to that copy and never answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster, NetCluster, waitFor } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';

const enc = (s: string) => new TextEncoder().encode(s);
const now = () => performance.now();
const buses: NatsBus[] = [];
const connect = async (servers: string[]) => {
  const b = await NatsBus.connect({ servers, reconnectTimeWaitMs: 100 });
  buses.push(b);
  return b;
};
afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
});

describe('kv reads - first answer of the stream leader and any copy', () => {
  let cluster: NatsCluster;
  beforeAll(async () => {
    cluster = await NatsCluster.start(3, { name: 'firstanswer' });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('first-answer - a value with its revision, as nats.js reads it; a deleted or absent key is null', async () => {
    const bus = await connect(cluster.urls);
    const kv = await bus.kv('fa_values', { replicas: 3 });
    const revision = await kv.put('a', enc('one'));
    await kv.put('b', enc('two'));
    await kv.delete('b');
    const reader = await bus.kv('fa_values', { create: false, reads: 'first-answer', timeoutMs: 1000 });
    const plain = await bus.kv('fa_values', { create: false });
    expect(await reader.get('a')).toEqual(await plain.get('a'));
    expect(await reader.get('a')).toMatchObject({ key: 'a', value: enc('one'), revision });
    expect(await reader.get('b')).toBeNull();
    expect(await reader.get('never')).toBeNull();
  });
});

describe('kv reads - first answer, one copy cut off (network namespaces)', () => {
  let net: NetCluster;
  beforeAll(async () => {
    net = await NetCluster.start({ hosts: 3, nats: true, clusterName: 'firstanswer' });
  }, 60_000);
  afterAll(async () => {
    await net?.stop();
  });

  it('first-answer - every read answers in time while the host of a copy (not the leader) is cut off', async () => {
    const bus = await connect([await net.controlNatsUrl(1)]);
    await (await bus.kv('fa_cut', { replicas: 3 })).put('lease', enc('held'));
    const stream = 'KV_fa_cut';
    // The stream led from the host this test reads through (its server then routes a direct get to another copy).
    const here = net.nats!.names[1]!;
    await waitFor(
      async () => {
        await net.nats!.waitForStreamCurrent(stream, 3);
        if ((await net.nats!.streamCluster(stream))?.leader === here) return true;
        const body = enc(JSON.stringify({ placement: { preferred: here } }));
        await bus.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, body, { timeout: 2000 }).catch(() => {});
        return false;
      },
      { timeoutMs: 30_000, intervalMs: 500, message: `${stream} led from ${here}` },
    );
    await net.nats!.waitForStreamCurrent(stream, 3);
    const cut = 0;
    const reader = await bus.kv('fa_cut', { create: false, reads: 'first-answer', timeoutMs: 1000 });
    const jsm = await bus.jsm();
    const failed: string[] = [];
    let directFailed = 0;
    await net.isolate(cut);
    try {
      const until = now() + 6000;
      while (now() < until) {
        const t = now();
        const e = await reader.get('lease').catch((err: Error) => err);
        if (e instanceof Error) failed.push(e.message);
        else if (now() - t > 1000) failed.push(`${(now() - t).toFixed(0)} ms`);
        else expect(e?.value).toEqual(enc('held'));
        // For the figure beside it: a direct get alone (nats.js's read of a bucket it created).
        await jsm.direct.getMessage(stream, { last_by_subj: '$KV.fa_cut.lease' }).catch(() => directFailed++);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await net.heal();
    }
    console.log(
      `one copy cut off 6 s: first-answer reads failed ${failed.length}; direct gets alone failed ${directFailed}`,
    );
    expect(failed).toEqual([]);
  }, 60_000);
});
