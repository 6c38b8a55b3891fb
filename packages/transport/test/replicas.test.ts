import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@backbeat/core';
import { NatsCluster, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import {
  ensureStreamReplicated,
  MemoryBus,
  NatsBus,
  openLeaseBucket,
  openPresenceBucket,
  openStateBucket,
  parseReplicaSetting,
  ReplicaMismatchError,
  reportStreamConfig,
  resolveReplicas,
  statusStreamConfig,
} from '../src/index.js';
import { dec, enc, unique } from './helpers.js';

describe('replicas - settings', () => {
  it('replicas - parseReplicaSetting takes auto or 1..5 and names the field otherwise', () => {
    expect(parseReplicaSetting('auto')).toBe('auto');
    expect(parseReplicaSetting(' AUTO ')).toBe('auto');
    expect(parseReplicaSetting('3')).toBe(3);
    for (const bad of ['0', '6', '2.5', '-1', 'three', '']) {
      expect(() => parseReplicaSetting(bad, 'BACKBEAT_REPLICAS')).toThrow(InvalidArgumentError);
      expect(() => parseReplicaSetting(bad, 'BACKBEAT_REPLICAS')).toThrow(
        /BACKBEAT_REPLICAS: must be 'auto' or an integer from 1 to 5/,
      );
    }
  });

  it(
    'replicas - the in-memory bus resolves auto to 1, accepts a count ' +
      'and reports it, and refuses one out of range',
    async () => {
      const bus = new MemoryBus();
      try {
        expect(await resolveReplicas(bus, 'auto')).toBe(1);
        expect(await resolveReplicas(bus, 2)).toBe(2);
        await expect(resolveReplicas(bus, 9)).rejects.toThrow(InvalidArgumentError);
        const kv = await bus.kv('mem_r', { replicas: 3 });
        expect((await kv.settings()).replicas).toBe(3);
        expect((await (await bus.kv('mem_r')).settings()).replicas).toBe(3); // kept when not asked
        expect((await (await bus.kv('mem_r', { replicas: 1 })).settings()).replicas).toBe(1); // changed when asked
        await expect(bus.kv('mem_r', { replicas: 0 })).rejects.toThrow(
          /replicas: must be an integer from 1 to 5, got 0/,
        );
        await bus.ensureStream(statusStreamConfig('mem', { replicas: 3 }));
        expect(bus.broker.stream('BACKBEAT_mem_STATUS')?.config.replicas).toBe(3);
        await bus.ensureStream(statusStreamConfig('mem'));
        expect(bus.broker.stream('BACKBEAT_mem_STATUS')?.config.replicas).toBe(3);
        await expect(bus.ensureStream({ name: 'BAD_R', subjects: ['bad.r'], replicas: 7 })).rejects.toThrow(
          /stream.replicas: must be an integer from 1 to 5, got 7/,
        );
      } finally {
        await bus.close();
      }
    },
  );
});

describe('replicas - one nats-server', () => {
  const nats = useNatsFixture();

  it(
    'replicas - auto is 1 on a server that is not clustered; more ' + 'than 1 is refused before anything is created',
    async () => {
      expect(nats.bus.clustered).toBe(false);
      expect(await resolveReplicas(nats.bus, 'auto')).toBe(1);
      await expect(nats.bus.kv('single_r3', { replicas: 3 })).rejects.toThrow(
        /replicas: bucket 'single_r3': 3 replicas need a JetStream cluster/,
      );
      await expect(nats.bus.ensureStream({ name: 'SINGLE_R3', subjects: ['single.r3'], replicas: 3 })).rejects.toThrow(
        InvalidArgumentError,
      );
      const jsm = await nats.bus.jsm();
      await expect(jsm.streams.info('KV_single_r3')).rejects.toThrow(/stream not found/);
      const kv = await openStateBucket(nats.bus, 'single', { replicas: 1 });
      expect((await kv.settings()).replicas).toBe(1);
    },
  );
});

describe('replicas - a 3-node JetStream cluster', () => {
  let cluster: NatsCluster;
  let bus: NatsBus;
  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    bus = await NatsBus.connect({ servers: cluster.urls });
  }, 30_000);
  afterAll(async () => {
    await bus?.close();
    await cluster?.stop();
  });

  const streamReplicas = async (name: string) => {
    const info = await (await bus.jsm()).streams.info(name);
    return { configured: info.config.num_replicas, peers: 1 + (info.cluster?.replicas?.length ?? 0) };
  };

  it('replicas - auto is 3: the connection sees every node of the cluster', async () => {
    expect(bus.clustered).toBe(true);
    expect(bus.serversSeen).toBe(3);
    expect(await resolveReplicas(bus, 'auto')).toBe(3);
  });

  it("replicas - the project's buckets and streams come up with 3 replicas", async () => {
    const replicas = await resolveReplicas(bus, 'auto');
    const id = unique('r3');
    const state = await openStateBucket(bus, id, { replicas });
    const lease = await openLeaseBucket(bus, id, { ttlMs: 2000, replicas });
    const presence = await openPresenceBucket(bus, id, { replicas });
    for (const kv of [state, lease, presence]) expect((await kv.settings()).replicas).toBe(3);
    expect((await lease.settings()).ttlMs).toBe(2000);
    await bus.ensureStream(statusStreamConfig(id, { replicas }));
    await bus.ensureStream(reportStreamConfig(id, { replicas }));
    for (const name of [`BACKBEAT_${id}_STATUS`, `BACKBEAT_${id}_REPORTS`, `KV_backbeat_${id}_lease`]) {
      await expect.poll(() => streamReplicas(name), { timeout: 10_000 }).toEqual({ configured: 3, peers: 3 });
    }
  });

  it('replicas - an existing R1 bucket and stream are updated to R3 and keep their data', async () => {
    const id = unique('up');
    const r1 = await openStateBucket(bus, id);
    await r1.put('tempo-map', enc('kept'));
    expect((await r1.settings()).replicas).toBe(1);
    const r3 = await openStateBucket(bus, id, { replicas: 3 });
    expect((await r3.settings()).replicas).toBe(3);
    expect(dec((await r3.get('tempo-map'))!.value)).toBe('kept');
    await bus.ensureStream(statusStreamConfig(id));
    // The create's reply can come before the stream's interest has crossed the routes to our node ("no
    // responders" until then); the message id makes a repeated publish store once.
    await waitFor(() => bus.publishDurable(`backbeat.${id}.status`, enc('claim'), { msgId: 'c1' }).then(() => true), {
      timeoutMs: 5_000,
      message: 'the first claim to reach the new stream',
    });
    expect((await streamReplicas(`BACKBEAT_${id}_STATUS`)).configured).toBe(1);
    await bus.ensureStream(statusStreamConfig(id, { replicas: 3 }));
    await expect
      .poll(() => streamReplicas(`BACKBEAT_${id}_STATUS`), { timeout: 10_000 })
      .toEqual({ configured: 3, peers: 3 });
    // A direct read may be answered by a new copy still catching up (it answers empty until it has the
    // message): the data is kept when the read, retried within a bound, returns it.
    await expect
      .poll(async () => (await bus.readStream({ stream: `BACKBEAT_${id}_STATUS` })).map((m) => dec(m.data)), {
        timeout: 10_000,
      })
      .toEqual(['claim']);
  });

  it('replicas - a count the cluster cannot hold is one clear error, or one report and the count kept', async () => {
    const id = unique('five');
    await openStateBucket(bus, id, { replicas: 3 });
    const err = await openStateBucket(bus, id, { replicas: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplicaMismatchError);
    expect((err as ReplicaMismatchError).code).toBe('BB_ERR_REPLICAS');
    expect((err as ReplicaMismatchError).context).toMatchObject({ kind: 'bucket', actual: 3, wanted: 5 });
    expect((err as Error).message).toMatch(/has 3 replica\(s\), 5 asked: the server refused the change .*--replicas 3/);
    const reports: ReplicaMismatchError[] = [];
    const kv = await openStateBucket(bus, id, { replicas: 5, onMismatch: (e) => reports.push(e) });
    expect(reports).toHaveLength(1);
    expect((await kv.settings()).replicas).toBe(3);
    await bus.ensureStream(statusStreamConfig(id, { replicas: 3 }));
    const streamReports: ReplicaMismatchError[] = [];
    await ensureStreamReplicated(bus, { ...statusStreamConfig(id, { replicas: 5 }), maxMsgs: 10 }, (e) =>
      streamReports.push(e),
    );
    expect(streamReports.map((e) => e.context)).toMatchObject([{ kind: 'stream', actual: 3, wanted: 5 }]);
    const info = await (await bus.jsm()).streams.info(`BACKBEAT_${id}_STATUS`);
    expect(info.config).toMatchObject({ num_replicas: 3, max_msgs: 10 }); // the rest of the configuration applied
  });
});
