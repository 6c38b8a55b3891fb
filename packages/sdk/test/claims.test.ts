import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { NatsServer, waitFor } from '@backbeat/testing';
import {
  MemoryBus,
  NatsBus,
  NoRespondersError,
  statusStreamConfig,
  subjects,
  TimeoutError,
  TransportError,
} from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { ClaimRejectedError, createClient } from '@backbeat/sdk';
import {
  ClaimSender,
  DEFAULT_NO_STREAM_GRACE_MS,
  permanentCause,
  PERMANENT_ATTEMPTS,
  SdkMetrics,
} from '@backbeat/sdk/internal';

const enc = new TextEncoder();

describe('sdk claims - retry logic on FakeClock', () => {
  it('claims - a permanent error fails the claim after bounded retries and the next claim goes on', async () => {
    const clock = new FakeClock();
    const bus = new MemoryBus(); // no stream captures the subject: every publish is refused
    const metrics = new SdkMetrics();
    const sender = new ClaimSender(bus, metrics, 10, clock, undefined, DEFAULT_NO_STREAM_GRACE_MS);
    const first = sender.send('backbeat.c.status', enc.encode('{}'), {}, 'a|1');
    const second = sender.send('backbeat.c.status', enc.encode('{}'), {}, 'a|2');
    const results: unknown[] = [];
    first.catch((e: unknown) => results.push(e));
    second.catch((e: unknown) => results.push(e));
    const tick = async () => {
      await new Promise((r) => setImmediate(r));
      clock.advance(1000);
    };
    // "No responders" is what a stream answers while it elects a leader: not final within the grace.
    for (let i = 0; i < DEFAULT_NO_STREAM_GRACE_MS / 1000 - 2; i++) await tick();
    expect(results).toHaveLength(0);
    for (let i = 0; i < 60 && results.length < 2; i++) await tick();
    expect(results).toHaveLength(2);
    for (const e of results) {
      expect(e).toBeInstanceOf(ClaimRejectedError);
      expect((e as ClaimRejectedError).context).toMatchObject({ cause: 'no_stream' });
      // retried through the grace
      expect((e as ClaimRejectedError).context.attempts).toBeGreaterThanOrEqual(PERMANENT_ATTEMPTS);
      expect((e as Error).message).toMatch(/no JetStream stream captures it/);
    }
    expect(metrics.snapshot.claimsFailed).toEqual({ no_stream: 2 });
    expect(sender.queued).toBe(0);
    await bus.close();
  });

  it('claims - permanent and transient causes', () => {
    expect(permanentCause(new NoRespondersError('s'))).toBe('no_stream');
    expect(
      permanentCause(new TransportError('publish', "Permissions Violation for Publish to 'backbeat.c.beat'")),
    ).toBe('permission');
    expect(permanentCause(new TimeoutError('s', 5000))).toBeNull();
    expect(permanentCause(new Error('connection lost'))).toBeNull();
  });
});

describe('sdk claims - on a real nats-server', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('claims - the SDK creates no stream: with none, a claim fails with a clear error', async () => {
    const c = createClient({ clusterId: 'nostream', agentId: 'agent:ns-1', nats: server.url, noStreamGraceMs: 500 });
    await c.start();
    try {
      await expect(c.emitStatusClaim({ state: 'idle', beatIndex: 0 })).rejects.toThrow(
        /rejected after \d+ attempts: no JetStream stream captures it/,
      );
      expect(c.metrics().claimsFailed.no_stream).toBe(1);
      const admin = await NatsBus.connect({ servers: server.url });
      await expect(admin.readStream({ stream: statusStreamConfig('nostream').name, limit: 1 })).rejects.toThrow(
        /not found/,
      );
      await admin.close();
    } finally {
      await c.stop();
    }
  });

  it('claims - queued while the server restarts, each stored exactly once', async () => {
    const cluster = 'restart';
    const admin = await NatsBus.connect({ servers: server.url, reconnectTimeWaitMs: 100 });
    await admin.ensureStream(statusStreamConfig(cluster));
    const pulseBus = await NatsBus.connect({ servers: server.url, reconnectTimeWaitMs: 100 });
    const p = new Pulse({ bus: pulseBus, clusterId: cluster, bpm: 240, maxBpm: 1000, elector: 'single' });
    await p.start();
    const c = createClient({ clusterId: cluster, agentId: 'agent:rs-1', nats: server.url, reconnectDelayMs: 100 });
    await c.start();
    try {
      await waitFor(() => c.currentBeat >= 0, { timeoutMs: 5000 });
      await c.emitStatusClaim({ state: 'planning' });
      await server.halt();
      await waitFor(() => !c.health().connected, { timeoutMs: 5000, message: 'client sees the disconnect' });
      const pending = [
        c.emitStatusClaim({ state: 'executing', notes: 'a' }),
        c.emitStatusClaim({ state: 'executing', notes: 'b' }),
        c.emitStatusClaim({ state: 'executing', notes: 'c' }),
      ];
      await server.restart();
      const sent = await Promise.all(pending);
      await waitFor(
        async () => (await admin.readStream({ stream: statusStreamConfig(cluster).name, limit: 100 })).length >= 4,
        { timeoutMs: 10_000 },
      );
      const stored = await admin.readStream({ stream: statusStreamConfig(cluster).name, limit: 100 });
      const hlcs = stored.map((m) => JSON.parse(Buffer.from(m.data).toString()).hlc as string);
      expect(hlcs).toHaveLength(4);
      expect(new Set(hlcs).size).toBe(4);
      for (const s of sent) expect(hlcs).toContain(s.hlc);
      expect(stored.every((m) => m.subject === subjects(cluster).status)).toBe(true);
      expect(c.metrics().claimsEmitted).toBe(4);
    } finally {
      await c.stop();
      await p.stop();
      await pulseBus.close();
      await admin.close();
    }
  });
});
