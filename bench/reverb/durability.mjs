// @ts-check
// The durability section of bench/reverb.mjs: the same claims on a 3-node cluster (R3 claim
// stream), with the servers' default sync_interval and with `sync_interval: always` (fsync
// before every acknowledgement, as deploy/nats/nats-server.conf runs).
import { NatsCluster } from '@backbeat/testing';
import { NatsBus, statusStreamConfig, subjects } from '@backbeat/transport';
import { createClient } from '@backbeat/sdk';
import { Reverb } from '@backbeat/reverb';
import { summary } from '../lib.mjs';
import { enc, perS, sleep } from './common.mjs';

/**
 * For each sync mode: the SDK's claim acknowledgement latency (emitStatusClaim resolved, one
 * at a time, `acks` claims) and claims/s end to end (`e2e` acknowledged publishes, 64 in
 * flight, taken out and counted by reverb).
 * @param {number} acks
 * @param {number} e2e
 */
export async function benchDurability(acks, e2e) {
  /**
   * @type {Record<string, { sdk_ack_ms: ReturnType<typeof summary>, end_to_end_per_s: number, claims: number,
   *   acked_publish_per_s: number }>}
   */
  const out = {};
  for (const mode of ['default', 'always']) {
    const syncAlways = mode === 'always' ? { jetstreamConfig: 'sync_interval: always' } : {};
    const cluster = await NatsCluster.start(3, { name: `dur-${mode}`, ...syncAlways });
    try {
      const bus = await NatsBus.connect({ servers: cluster.urls });
      const clusterId = `dur${mode}`;
      await bus.ensureStream(statusStreamConfig(clusterId, { replicas: 3 }));
      // The SDK's acknowledgement latency: emitStatusClaim to its resolution, one claim at a time.
      const client = createClient({ clusterId, agentId: 'agent:bench', bus });
      await client.start();
      /** @type {number[]} */
      const lat = [];
      for (let i = 0; i < acks; i++) {
        const t = performance.now();
        await client.emitStatusClaim({ state: 'executing', beatIndex: 1 + (i % 7) });
        lat.push(performance.now() - t);
      }
      await client.stop();
      // End to end: acknowledged publishes (64 in flight) taken out and counted by reverb.
      const r = new Reverb({ bus, clusterId, nodeId: 'dur', barLength: 8, signatures: 'off', replicas: 3 });
      let handled = 0;
      let last = 0;
      r.onClaim(() => {
        handled++;
        last = performance.now();
      });
      await r.start();
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < e2e) {
          const i = next++;
          const agent = `agent:a${i % 500}`;
          const hlc = `18bcfe56800:${i.toString(16).padStart(6, '0')}:abcd`;
          const claim = { type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: 9, state: 'executing', hlc };
          const options = { headers: { 'x-agent-id': agent }, msgId: `dur-${mode}-${i}` };
          await bus.publishDurable(subjects(clusterId).status, enc.encode(JSON.stringify(claim)), options);
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      const publishMs = performance.now() - t0;
      const until = performance.now() + 60_000;
      while (handled < e2e && performance.now() < until) await sleep(5);
      await r.stop();
      await bus.close();
      out[mode] = {
        sdk_ack_ms: summary(lat),
        end_to_end_per_s: perS(handled, last - t0),
        claims: handled,
        acked_publish_per_s: perS(e2e, publishMs),
      };
    } finally {
      await cluster.stop();
    }
  }
  return out;
}
