/**
 * The fast part of the chaos suite (`npm run chaos` runs all of it): on three real NATS
 * nodes, pulse and reverb create every bucket and stream at R3, and two `backbeat pulse` processes keep the beat
 * through a kill -9 of one NATS node, with nothing duplicated or backwards on the wire and no SDK slot
 * fired twice or missed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
// @ts-expect-error: plain ESM runner module, no type declarations
import { startFleet, DEFAULTS } from '../../../scripts/chaos/fleet.mjs';
// @ts-expect-error: plain ESM runner module, no type declarations
import { measure, startObservers } from '../../../scripts/chaos/observe.mjs';

const clusterId = 'chaosfast';

describe('chaos - fast part', () => {
  let fleet: any;
  let obs: any;
  beforeAll(async () => {
    fleet = await startFleet({ clusterId, pulses: 2, reverbs: 1, agents: 0 });
    obs = await startObservers({ urls: fleet.urls, clusterId, sdkClients: 1 });
  }, 30_000);
  afterAll(async () => {
    await obs?.stop();
    await fleet?.stop();
  }, 30_000);

  const frames = () => Math.max(0, ...obs.recorders.map((r: any) => r.frames.length));

  it('chaos - pulse and reverb create every bucket and stream of the cluster at R3', async () => {
    await waitFor(async () => Object.values(await fleet.replicas()).every((r) => r !== null), {
      timeoutMs: 15_000,
      message: 'every bucket and stream',
    });
    // lease, state, presence; status, reports, dlq
    expect(Object.values(await fleet.replicas())).toEqual([3, 3, 3, 3, 3, 3]);
    const lease = await fleet.bus.kv(`backbeat_${clusterId}_lease`, { create: false });
    expect((await lease.settings()).replicas).toBe(3);
  });

  it('chaos - kill -9 of a NATS node: the beat resumes within the lease TTL + 1 s, ' +
    'nothing duplicated or backwards, no SDK slot missed or fired twice', async () => {
    await waitFor(() => frames() >= 6, { timeoutMs: 20_000, message: 'frames from the pulse' });
    const leaseLeader = await fleet.leaseStreamLeader();
    // not the lease's stream leader: no Raft election in the way (that one is in npm run chaos)
    const victim = (leaseLeader + 1) % 3;
    const from = Date.now();
    await fleet.cluster.kill(victim);
    const killedAt = Date.now();
    await waitFor(() => obs.recorders.some((r: any) => r.frames.some((f: any) => f.at > killedAt + 1500)), {
      timeoutMs: 10_000,
      message: 'frames after the kill',
    });
    await fleet.cluster.restart(victim);
    const restartedAt = Date.now();
    await waitFor(() => obs.recorders.some((r: any) => r.frames.some((f: any) => f.at > restartedAt + 1000)), {
      timeoutMs: 10_000,
      message: 'frames after the restart',
    });
    const lastBeat = Math.max(...obs.recorders.flatMap((r: any) => r.frames.map((f: any) => f.beat)));
    const row = measure(
      obs,
      new Map(),
      { fault: 'nats kill -9', from, to: Date.now(), boundMs: DEFAULTS.leaseTtlMs + 1000, bar: DEFAULTS.bar },
      lastBeat,
    );
    expect(row).toMatchObject({ frames_duplicated: 0, frames_backwards: 0, sdk_slots_missed: 0, sdk_slots_twice: 0 });
    expect(row.gap_ms).toBeLessThanOrEqual(DEFAULTS.leaseTtlMs + 1000);
  }, 40_000);
});
