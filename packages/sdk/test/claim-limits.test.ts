/**
 * The claim stream's limits on a real nats-server (docs/spec.md §3 Subjects
 * and shared state and §10 Security): a per-message size limit matching reverb's 64 KiB refusal,
 * a byte limit with discard policy `new` (a full stream refuses new claims and keeps the unread ones), and
 * the SDK's side of each: a claim over 64 KiB is never sent, a claim the stream refuses fails (a
 * rejected promise, counted with its reason), and nothing is retried forever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { FakeClock } from '@backbeat/core';
import { NatsServer, waitFor } from '@backbeat/testing';
import {
  CLAIM_MAX_BYTES,
  MemoryBus,
  NatsBus,
  statusStreamConfig,
  StreamRefusedError,
  subjects,
  TimeoutError,
  type Bus,
} from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { ClaimRejectedError, ClaimTooLargeError, createClient } from '@backbeat/sdk';
import { ClaimSender, SdkMetrics } from '@backbeat/sdk/internal';

const enc = new TextEncoder();
let server: NatsServer;
let admin: NatsBus;
beforeAll(async () => {
  server = await NatsServer.start();
  admin = await NatsBus.connect({ servers: server.url });
});
afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

const claimBytes = (agent: string, notes = '') =>
  enc.encode(
    JSON.stringify({
      type: 'backbeat.statusclaim.v1',
      agent_id: agent,
      beat_index: 1,
      state: 'executing',
      hlc: '18bcfe56800:0001:abcd',
      notes,
    }),
  );
const failed = async (registry: Registry, reason: string) =>
  (await registry.metrics()).match(new RegExp(`backbeat_sdk_claims_failed_total\\{reason="${reason}"\\} (\\d+)`))?.[1];

/** A pulse and an SDK client (with its own metrics registry) on `cluster`. */
async function agentOn(cluster: string) {
  const pulseBus = await NatsBus.connect({ servers: server.url });
  const pulse = new Pulse({ bus: pulseBus, clusterId: cluster, bpm: 240, maxBpm: 1000, elector: 'single' });
  await pulse.start();
  const registry = new Registry();
  const client = createClient({ clusterId: cluster, agentId: 'agent:lim-1', nats: server.url, registry });
  await client.start();
  await waitFor(() => client.currentBeat >= 0, { timeoutMs: 5000, message: 'the beat' });
  return {
    client,
    registry,
    stop: async () => {
      await client.stop();
      await pulse.stop();
      await pulseBus.close();
    },
  };
}

describe('claim stream limits', () => {
  it('limits - a claim over 64 KiB is refused by the SDK before it is sent, counted as too_large', async () => {
    const cluster = 'lim-sdk';
    await admin.ensureStream(statusStreamConfig(cluster));
    const a = await agentOn(cluster);
    try {
      // Valid INT-B (64 references of 512 characters), but each control character is 6 bytes of JSON.
      const waitFor_ = Array.from({ length: 64 }, () => '\u0001'.repeat(512));
      const err = await a.client.emitStatusClaim({ state: 'waiting', waitFor: waitFor_ }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClaimTooLargeError);
      expect((err as Error).message).toMatch(/status claim of \d+ bytes not sent: a claim may be at most 65536 bytes/);
      expect(await failed(a.registry, 'too_large')).toBe('1');
      expect((await admin.streamState(statusStreamConfig(cluster).name)).messages).toBe(0);
      // The next claim goes on; its Nats-Msg-Id is 128 random bits, nothing another login can predict.
      await a.client.emitStatusClaim({ state: 'executing' });
      await a.client.emitStatusClaim({ state: 'executing' });
      const stored = await admin.readStream({ stream: statusStreamConfig(cluster).name, limit: 10 });
      const ids = stored.map((m) => m.headers['Nats-Msg-Id']);
      expect(ids).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/), expect.stringMatching(/^[0-9a-f]{32}$/)]);
      expect(ids[0]).not.toBe(ids[1]);
    } finally {
      await a.stop();
    }
  });

  it(
    'limits - a 1 MB claim published by an agent login is refused by the claim ' +
      'stream; the SDK sender fails it at once, counted as too_large',
    async () => {
      const cluster = 'lim-big';
      await admin.ensureStream(statusStreamConfig(cluster));
      const agent = await NatsBus.connect({ servers: server.url });
      try {
        const big = claimBytes('agent:big', 'x'.repeat(1_000_000));
        const err = await agent.publishDurable(subjects(cluster).status, big).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StreamRefusedError);
        expect((err as StreamRefusedError).context.reason).toBe('too_large');
        expect((err as Error).message).toMatch(/refused: the message is larger than the stream allows/);
        // Just over the limit (payload and headers) is refused too; at the limit it is stored.
        const limit = CLAIM_MAX_BYTES + 4096;
        await expect(agent.publishDurable(subjects(cluster).status, new Uint8Array(limit + 1))).rejects.toBeInstanceOf(
          StreamRefusedError,
        );
        await agent.publishDurable(subjects(cluster).status, new Uint8Array(CLAIM_MAX_BYTES));
        expect((await admin.streamState(statusStreamConfig(cluster).name)).messages).toBe(1);
        // The SDK's sender (what emitStatusClaim queues on): failed at the first refusal, not retried.
        const metrics = new SdkMetrics();
        const sender = new ClaimSender(agent, metrics, 10, new FakeClock());
        const e = await sender.send(subjects(cluster).status, big, {}, 'id-big').catch((x: unknown) => x);
        expect(e).toBeInstanceOf(ClaimRejectedError);
        expect((e as ClaimRejectedError).context).toMatchObject({ cause: 'too_large', attempts: 1 });
        expect(metrics.snapshot.claimsFailed).toEqual({ too_large: 1 });
        await sender.close(0);
      } finally {
        await agent.close();
      }
    },
  );

  it(
    'limits - a full claim stream refuses new claims and keeps every stored one; the SDK ' +
      'fails the claim as stream_full, counted, after bounded retries',
    async () => {
      const cluster = 'lim-full';
      const config = statusStreamConfig(cluster, { maxBytes: 8 * 1024 });
      await admin.ensureStream(config);
      let stored = 0;
      for (let i = 0; i < 1000; i++) {
        const err = await admin
          .publishDurable(subjects(cluster).status, claimBytes(`agent:f${i}`), { msgId: `fill-${i}` })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        if (err) {
          expect(err).toBeInstanceOf(StreamRefusedError);
          expect((err as StreamRefusedError).context.reason).toBe('full');
          break;
        }
        stored++;
      }
      expect(stored).toBeGreaterThan(10);
      expect(stored).toBeLessThan(1000);
      const a = await agentOn(cluster);
      try {
        const err = await a.client.emitStatusClaim({ state: 'executing' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ClaimRejectedError);
        expect((err as Error).message).toMatch(
          /rejected after 3 attempts: the claim stream is full and refuses new claims/,
        );
        expect(await failed(a.registry, 'stream_full')).toBe('1');
        const state = await admin.streamState(config.name);
        expect([state.firstSeq, state.messages]).toEqual([1, stored]); // nothing unread was dropped
      } finally {
        await a.stop();
      }
    },
  );

  it(
    'limits - an existing claim stream without limits is updated in place: ' +
      'its claims kept, a large message then refused',
    async () => {
      const cluster = 'lim-old';
      const { maxBytes: _b, maxMsgSize: _s, discard: _d, ...old } = statusStreamConfig(cluster);
      await admin.ensureStream(old);
      await admin.publishDurable(subjects(cluster).status, new Uint8Array(200_000)); // stored: no limit yet
      await admin.ensureStream(statusStreamConfig(cluster));
      await expect(admin.publishDurable(subjects(cluster).status, new Uint8Array(200_000))).rejects.toBeInstanceOf(
        StreamRefusedError,
      );
      expect((await admin.streamState(statusStreamConfig(cluster).name)).messages).toBe(1);
    },
  );
});

describe('claim message ids on retries', () => {
  it('limits - a claim whose acknowledgement was lost is sent again with the same id and stored once', async () => {
    const clock = new FakeClock();
    const bus = new MemoryBus({ clock });
    await bus.ensureStream(statusStreamConfig('retry'));
    const ids: string[] = [];
    let lose = true;
    // Stored, but the acknowledgement never arrives: the sender times out and sends again.
    const lossy = new Proxy(bus, {
      get(target, key) {
        if (key === 'publishDurable') {
          return async (...args: Parameters<Bus['publishDurable']>) => {
            ids.push(args[2]?.msgId ?? '');
            const r = await target.publishDurable(...args);
            if (!lose) return r;
            lose = false;
            throw new TimeoutError(args[0], 5000);
          };
        }
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const sender = new ClaimSender(lossy, new SdkMetrics(), 10, clock);
    const sent = sender.send(subjects('retry').status, claimBytes('agent:r'), {}, 'f'.repeat(32));
    for (let i = 0; i < 20 && ids.length < 2; i++) {
      await new Promise((r) => setImmediate(r));
      clock.advance(100);
    }
    await sent;
    expect(ids).toEqual(['f'.repeat(32), 'f'.repeat(32)]);
    expect((await bus.streamState(statusStreamConfig('retry').name)).messages).toBe(1);
    await sender.close(0);
    await bus.close();
  });
});
