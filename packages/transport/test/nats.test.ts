import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import { InvalidArgumentError } from '@backbeat/core';
import { NatsServer, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import {
  NatsBus,
  natsConnectOptions,
  TransportError,
  type BusEvent,
  type DurableMsg,
  type KvWatchEvent,
} from '@backbeat/transport';
import { runConformance } from './conformance.js';
import { dec, enc } from './helpers.js';

runConformance('nats', async () => {
  const server = await NatsServer.start();
  return {
    open: () => NatsBus.connect({ servers: server.url }),
    teardown: () => server.stop(),
  };
});

describe('nats bus - connection loss (docs/spec.md §12 Known pitfalls)', () => {
  const nats = useNatsFixture({ bus: { reconnectTimeWaitMs: 100, pingIntervalMs: 1000 } });

  it(
    'nats bus - reconnects after a server restart: events, subscriptions, KV, watch, ' +
      'stream and consumer all carry on; publishes while down are dropped',
    async () => {
      const { bus, server } = nats;
      const events: BusEvent['type'][] = [];
      bus.onStatus((e) => events.push(e.type));
      const beats: string[] = [];
      bus.subscribe('beat.x', (m) => beats.push(dec(m.data)));
      const kv = await bus.kv('restart_state');
      const rev = await kv.put('tempo', enc('12'));
      const watched: KvWatchEvent[] = [];
      await kv.watch('tempo', (e) => watched.push(e));
      await bus.ensureStream({ name: 'RESTART', subjects: ['claims.>'] });
      const consumed: DurableMsg[] = [];
      await bus.consume({ stream: 'RESTART', durable: 'reverb', ackWaitMs: 2000 }, (m) => {
        consumed.push(m);
        m.ack();
      });
      await bus.publishDurable('claims.a', enc('before'), { msgId: 'c1' });
      await waitFor(() => consumed.length === 1 && watched.length === 1, {
        message: 'the first claim and the current tempo',
      });
      await bus.flush();

      await server.halt();
      await waitFor(() => !bus.status().connected, { message: 'the disconnect' });
      bus.publish('beat.x', enc('stale')); // dropped, never delivered late
      expect(bus.status().dropped).toBe(1);
      await server.restart();
      await waitFor(() => bus.status().connected, { timeoutMs: 10_000, message: 'the reconnect' });
      expect(events.slice(0, 2)).toEqual(['disconnect', 'reconnect']);
      expect(bus.status()).toMatchObject({ connected: true, reconnects: 1, dropped: 1 });

      bus.publish('beat.x', enc('fresh'));
      await waitFor(() => beats.includes('fresh'), { message: 'a beat after the reconnect' });
      expect(beats).toEqual(['fresh']);
      expect((await kv.get('tempo'))?.revision).toBe(rev); // JetStream state survived
      await kv.put('tempo', enc('13'));
      await waitFor(() => watched.length === 2, { timeoutMs: 10_000, message: 'the watcher after the reconnect' });
      const again = await waitFor(
        () => bus.publishDurable('claims.a', enc('before'), { msgId: 'c1' }).catch(() => null),
        { timeoutMs: 10_000 },
      );
      expect(again.duplicate).toBe(true); // the dedupe window survived the restart too
      await bus.publishDurable('claims.a', enc('after'), { msgId: 'c2' });
      await waitFor(() => consumed.some((m) => dec(m.data) === 'after'), {
        timeoutMs: 10_000,
        message: 'the consumer after the reconnect',
      });
      expect(consumed.map((m) => dec(m.data))).toEqual(['before', 'after']);
    },
  );
});

describe('nats bus - connections', () => {
  it(
    'nats bus - authenticates with user and password, token, or ' + 'nkey; a wrong secret fails with a TransportError',
    async () => {
      const nkey = createUser();
      const pub = nkey.getPublicKey();
      const seed = new TextDecoder().decode(nkey.getSeed());
      await using server = await NatsServer.start({
        config: `authorization { users: [ { user: "pulse", password: "s3cret" }, { nkey: "${pub}" } ] }`,
      });
      for (const cfg of [{ user: 'pulse', pass: 's3cret' }, { nkeySeed: seed }]) {
        const bus = await NatsBus.connect({ servers: server.url, ...cfg });
        expect(bus.status().connected).toBe(true);
        await bus.close();
      }
      await expect(
        NatsBus.connect({ servers: server.url, user: 'pulse', pass: 'wrong', maxReconnectAttempts: 0 }),
      ).rejects.toBeInstanceOf(TransportError);

      await using tokenServer = await NatsServer.start({ config: 'authorization { token: "t0ken" }' });
      const tb = await NatsBus.connect({ servers: tokenServer.url, token: 't0ken' });
      await tb.close();
    },
  );

  it('nats bus - fromConnection: close() stops its subscriptions and leaves the connection open', async () => {
    await using server = await NatsServer.start({ jetstream: false });
    const nc = await connect({ servers: server.url });
    const bus = NatsBus.fromConnection(nc);
    const got: string[] = [];
    bus.subscribe('x', (m) => got.push(dec(m.data)));
    await bus.flush();
    await bus.close();
    expect(nc.isClosed()).toBe(false);
    const other: string[] = [];
    nc.subscribe('x', {
      callback: (_e, m) => {
        other.push(dec(m.data));
      },
    });
    nc.publish('x', enc('after'));
    await waitFor(() => other.length === 1);
    expect(got).toEqual([]);
    await nc.close();
  });

  it(
    'nats bus - options: unlimited reconnects and short pings by default; ' +
      'credentials and TLS mapped; bad values refused',
    () => {
      expect(natsConnectOptions()).toMatchObject({
        servers: 'nats://127.0.0.1:4222',
        maxReconnectAttempts: -1,
        pingInterval: 5000,
        maxPingOut: 3,
        reconnectTimeWait: 1000,
        timeout: 5000,
        reconnect: true,
      });
      const o = natsConnectOptions({
        servers: ['nats://127.0.0.1:1'],
        name: 'pulse-1',
        user: 'u',
        pass: 'p',
        token: 't',
        tls: { caFile: '/ca.pem' },
        pingIntervalMs: 1000,
      });
      expect(o).toMatchObject({
        servers: ['nats://127.0.0.1:1'],
        name: 'pulse-1',
        user: 'u',
        pass: 'p',
        token: 't',
        tls: { caFile: '/ca.pem' },
        pingInterval: 1000,
      });
      expect(natsConnectOptions({ tls: {} }).tls).toBeUndefined();
      // read on connect
      expect(typeof natsConnectOptions({ credsFile: '/does/not/exist.creds' }).authenticator).toBe('function');
      expect(() => natsConnectOptions({ nkeySeed: 'SU...', credsFile: '/x.creds' })).toThrow(InvalidArgumentError);
      expect(() => natsConnectOptions({ pingIntervalMs: 0 })).toThrow(InvalidArgumentError);
      expect(() => natsConnectOptions({ maxReconnectAttempts: -2 })).toThrow(InvalidArgumentError);
    },
  );
});
