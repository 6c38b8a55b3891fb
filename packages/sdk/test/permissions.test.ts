import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus, statusStreamConfig } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { createClient } from '@backbeat/sdk';

// An agent that may use the beat and status subjects but not JetStream's API: it cannot read
// the lease or the tempo map (the case "KV cannot be read at all").
const config = `authorization {
  users = [
    { user: admin, password: admin }
    { user: mute, password: mute, permissions: {
      publish: { allow: ["_INBOX.>"] }, subscribe: { allow: ["backbeat.>", "_INBOX.>"] } } }
    { user: agent, password: agent, permissions: {
      publish: { allow: ["backbeat.>", "_INBOX.>"] }, subscribe: { allow: ["backbeat.>", "_INBOX.>"] } } }
  ]
}`;

let server: NatsServer;
beforeAll(async () => {
  server = await NatsServer.start({ config });
});
afterAll(async () => {
  await server?.stop();
});

describe('sdk - KV that the agent may not read', () => {
  it(
    'permissions - no lease and no map readable: frames are ' + 'followed on the learned grid, health says why',
    async () => {
      const url = `nats://127.0.0.1:${server.port}`;
      const admin = await NatsBus.connect({ servers: url, user: 'admin', pass: 'admin' });
      const p = new Pulse({ bus: admin, clusterId: 'perm', nodeId: 'perm-1', bpm: 240, maxBpm: 1000, barLength: 4 });
      await p.start();
      await admin.ensureStream(statusStreamConfig('perm'));
      const c = createClient({
        clusterId: 'perm',
        agentId: 'agent:perm-1',
        nats: { servers: url, user: 'agent', pass: 'agent' },
      });
      const sources: string[] = [];
      c.onPhase((_f, info) => sources.push(info.source));
      try {
        await c.start();
        await waitFor(() => sources.filter((s) => s === 'leader').length >= 3, {
          timeoutMs: 15_000,
          message: 'leader frames',
        });
        const h = c.health();
        expect(h.lease.state).toBe('unreadable');
        expect(h.tempoMapSource).toBe('frames');
        expect(h.errors.some((e) => /lease not readable .*terms are not fenced/.test(e))).toBe(true);
        expect(h.errors.some((e) => /tempo map not readable .*learned from frames/.test(e))).toBe(true);
        const claim = await c.emitStatusClaim({ state: 'executing' }); // publishing a claim needs no KV
        expect(claim.state).toBe('executing');
      } finally {
        await c.stop();
        await p.stop();
        await admin.close();
      }
    },
  );

  it('permissions - a claim the agent may not publish fails with a clear error after bounded retries', async () => {
    const url = `nats://127.0.0.1:${server.port}`;
    const admin = await NatsBus.connect({ servers: url, user: 'admin', pass: 'admin' });
    await admin.ensureStream(statusStreamConfig('mute'));
    const c = createClient({
      clusterId: 'mute',
      agentId: 'agent:mute-1',
      nats: { servers: url, user: 'mute', pass: 'mute' },
    });
    try {
      await c.start();
      await expect(c.emitStatusClaim({ state: 'idle', beatIndex: 0 })).rejects.toThrow(
        /rejected after 3 attempts: permission denied/,
      );
      expect(c.metrics().claimsFailed.permission).toBe(1);
    } finally {
      await c.stop();
      await admin.close();
    }
  });
});
