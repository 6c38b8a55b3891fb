import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { canConnect, NatsCluster } from '@backbeat/testing';

const enc = (s: string) => new TextEncoder().encode(s);

describe('harness - NatsCluster faults', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100, pingInterval: 1000 });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'CHAOS', subjects: ['chaos.>'], num_replicas: 3 });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  const count = async () => (await jsm.streams.info('CHAOS')).state.messages;

  it('harness - kill -9 of the stream leader: another node leads, nothing is ' +
    'lost; restart brings it back on the same ports and store', async () => {
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish('chaos.a', enc(`m${i}`));
    const leader = await cluster.waitForStreamCurrent('CHAOS', 3);
    const port = cluster.servers[leader]!.port;
    await cluster.kill(leader);
    expect(cluster.servers[leader]!.running).toBe(false);
    expect(await canConnect(port)).toBe(false);
    // On 2.9 the survivors wait out a Raft election timeout (4-9 s) before one of them leads.
    const next = await cluster.streamLeader('CHAOS', 20_000);
    expect(next).not.toBe(leader);
    await expect.poll(() => count().catch(() => -1), { timeout: 10_000 }).toBe(5);
    await js.publish('chaos.a', enc('while down'));

    await cluster.restart(leader);
    expect(cluster.servers[leader]!.port).toBe(port);
    expect(cluster.servers[leader]!.running).toBe(true);
    await cluster.waitForStreamCurrent('CHAOS', 3);
    const c = await cluster.streamCluster('CHAOS');
    const names = [c!.leader, ...(c!.replicas ?? []).map((r) => r.name)].sort();
    expect(names).toEqual([...cluster.names].sort()); // the restarted node holds its copy again
  }, 60_000);

  it('harness - SIGSTOP pauses a node (alive, answering nothing) ' +
    'and SIGCONT resumes it; the others carry on', async () => {
    const leader = await cluster.waitForStreamCurrent('CHAOS', 3);
    // Pause a node that neither leads the stream (that would wait out an election) nor serves
    // this test's connection (that would wait out the ping timeout): only the pause is under test.
    const connected = cluster.names.indexOf(nc.info!.server_name);
    const other = [0, 1, 2].find((i) => i !== leader && i !== connected)!;
    cluster.pause(other);
    expect(cluster.servers[other]!.running).toBe(true);
    expect(cluster.servers[other]!.paused).toBe(true);
    expect(await cluster.waitForJetStream()).toBeTruthy(); // asks the answering nodes only
    await jetstream(nc).publish('chaos.b', enc('while paused'));
    cluster.resume(other);
    expect(cluster.servers[other]!.paused).toBe(false);
    await cluster.waitForStreamCurrent('CHAOS', 3);
    expect(await count()).toBe(7);
  }, 60_000);

  it('harness - a full outage: every node killed, all started again, the replicated stream is intact', async () => {
    await cluster.waitForStreamCurrent('CHAOS', 3);
    await cluster.killAll();
    expect(cluster.servers.every((s) => !s.running)).toBe(true);
    await cluster.startAll();
    await cluster.streamLeader('CHAOS', 20_000);
    await expect.poll(() => count().catch(() => -1), { timeout: 20_000 }).toBe(7);
  }, 60_000);

  it('harness - waitHealthy: each answering node is healthy; a killed one is not asked', async () => {
    await cluster.waitHealthy(30_000);
    const leader = await cluster.waitForStreamCurrent('CHAOS', 3);
    const other = [0, 1, 2].find((i) => i !== leader)!;
    await cluster.kill(other);
    await cluster.waitHealthy(30_000); // the two that answer
    await cluster.restart(other);
    await cluster.waitHealthy(30_000);
    const res = await fetch(`${cluster.servers[other]!.monitorUrl}/healthz`);
    expect(res.status).toBe(200); // the restarted node too: its JetStream caught up
  }, 90_000);

  it('harness - a node index outside the cluster is a RangeError', async () => {
    await expect(cluster.kill(3)).rejects.toThrow(RangeError);
    expect(() => cluster.pause(-1)).toThrow(/node index must be 0..2, got -1/);
  });
});
