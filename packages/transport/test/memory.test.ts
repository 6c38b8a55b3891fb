import { describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { waitFor } from '@backbeat/testing';
import {
  MemoryBroker,
  MemoryBus,
  NoRespondersError,
  TimeoutError,
  type BusEvent,
  type DurableMsg,
  type KvWatchEvent,
} from '@backbeat/transport';
import { runConformance } from './conformance.js';
import { dec, enc } from './helpers.js';

runConformance('memory', async () => {
  const broker = new MemoryBroker();
  return { open: async () => new MemoryBus({ broker }), teardown: async () => {} };
});

describe('memory bus - simulated connection loss', () => {
  it(
    'memory bus - while disconnected: publishes dropped and counted, nothing ' +
      'delivered; after: watchers catch up, consumers resume',
    async () => {
      const broker = new MemoryBroker();
      const agent = new MemoryBus({ broker, jetStreamTimeoutMs: 200 });
      const pulse = new MemoryBus({ broker });
      const events: BusEvent['type'][] = [];
      agent.onStatus((e) => events.push(e.type));
      const beats: string[] = [];
      agent.subscribe('beat', (m) => beats.push(dec(m.data)));
      const kv = await pulse.kv('state');
      await kv.put('tempo', enc('12'));
      const seen: KvWatchEvent[] = [];
      await (await agent.kv('state')).watch('tempo', (e) => seen.push(e));
      await pulse.ensureStream({ name: 'CLAIMS', subjects: ['claims'] });
      const consumed: DurableMsg[] = [];
      await agent.consume({ stream: 'CLAIMS', durable: 'd', ackWaitMs: 60_000 }, (m) => {
        consumed.push(m);
        m.ack();
      });
      await waitFor(() => seen.length === 1);

      agent.simulateDisconnect();
      expect(agent.status()).toEqual({ connected: false, reconnects: 0, dropped: 0 });
      agent.publish('beat', enc('mine'));
      pulse.publish('beat', enc('missed'));
      await kv.put('tempo', enc('13'));
      await kv.put('tempo', enc('14'));
      await pulse.publishDurable('claims', enc('c1'));
      await expect(agent.request('beat', enc('x'), { timeoutMs: 50 })).rejects.toBeInstanceOf(TimeoutError);
      await expect(agent.publishDurable('claims', enc('late'), { timeoutMs: 50 })).rejects.toBeInstanceOf(TimeoutError);
      await expect(agent.kv('state')).rejects.toBeInstanceOf(TimeoutError); // after jetStreamTimeoutMs
      await pulse.flush();
      expect(agent.status().dropped).toBe(1);
      expect(beats).toEqual([]);
      expect(consumed).toEqual([]);

      const pending = agent.publishDurable('claims', enc('c2'), { timeoutMs: 5000 }); // waits for the connection
      agent.simulateReconnect();
      expect((await pending).duplicate).toBe(false);
      expect(events).toEqual(['disconnect', 'reconnect']);
      expect(agent.status()).toEqual({ connected: true, reconnects: 1, dropped: 1 });
      await waitFor(() => seen.length === 2 && consumed.length === 2, { message: 'the catch-up' });
      // the latest revision, as an ordered consumer resumes
      expect(seen.map((e) => dec(e.value))).toEqual(['12', '14']);
      expect(consumed.map((m) => dec(m.data))).toEqual(['c1', 'c2']);
      pulse.publish('beat', enc('fresh'));
      await waitFor(() => beats.length === 1);
      expect(beats).toEqual(['fresh']);
      await agent.close();
      await pulse.close();
    },
  );

  it('memory bus - separate brokers do not see each other; the default broker is private', async () => {
    const a = new MemoryBus();
    const b = new MemoryBus();
    const got: string[] = [];
    b.subscribe('x', (m) => got.push(dec(m.data)));
    await expect(a.request('x', enc('?'))).rejects.toBeInstanceOf(NoRespondersError);
    expect(a.broker).not.toBe(b.broker);
    expect(got).toEqual([]);
    await a.close();
    await b.close();
  });

  it('memory bus - close waits for the handler in hand and leaves the durable to the next consumer', async () => {
    const broker = new MemoryBroker();
    const one = new MemoryBus({ broker });
    await one.ensureStream({ name: 'S', subjects: ['s'] });
    for (let i = 0; i < 3; i++) await one.publishDurable('s', enc(String(i)));
    let release: () => void = () => {};
    const first: string[] = [];
    await one.consume({ stream: 'S', durable: 'd', ackWaitMs: 100 }, async (m) => {
      first.push(dec(m.data));
      await new Promise<void>((r) => (release = r));
      m.ack();
    });
    await waitFor(() => first.length === 1);
    const closing = one.close();
    release();
    await closing;
    const two = new MemoryBus({ broker });
    const second: string[] = [];
    await two.consume({ stream: 'S', durable: 'd', ackWaitMs: 100 }, (m) => {
      second.push(dec(m.data));
      m.ack();
    });
    await waitFor(() => second.length === 2);
    expect([first, second]).toEqual([['0'], ['1', '2']]);
    await two.close();
  });
});

describe('memory bus - on a FakeClock', () => {
  it(
    'memory bus - bucket TTL, stored times, stream max age, ack wait and ' +
      'request timeouts follow the clock, not the wall',
    async () => {
      const clock = new FakeClock(Date.parse('2026-12-01T00:00:00Z'));
      const bus = new MemoryBus({ clock });
      try {
        const lease = await bus.kv('lease', { ttlMs: 2000 });
        const rev = await lease.create('leader', enc('p1'));
        expect((await lease.get('leader'))!.created).toBe(clock.wallNow());
        clock.advance(1999);
        expect((await lease.get('leader'))?.revision).toBe(rev);
        await expect(lease.create('leader', enc('p2'))).rejects.toThrow(/already has a value/);
        clock.advance(1);
        expect(await lease.get('leader')).toBeNull(); // expired by the bucket TTL at 2000 ms of clock time
        await lease.create('leader', enc('p2'));

        await bus.ensureStream({ name: 'AGED', subjects: ['aged'], maxAgeMs: 10_000 });
        await bus.publishDurable('aged', enc('old'));
        clock.advance(6000);
        await bus.publishDurable('aged', enc('new'));
        const stored = await bus.readStream({ stream: 'AGED' });
        expect(stored.map((m) => m.time - Date.parse('2026-12-01T00:00:00Z'))).toEqual([2000, 8000]);
        clock.advance(4000);
        expect((await bus.readStream({ stream: 'AGED' })).map((m) => dec(m.data))).toEqual(['new']);

        await bus.ensureStream({ name: 'WAIT', subjects: ['wait'] });
        const deliveries: number[] = [];
        await bus.consume({ stream: 'WAIT', durable: 'w', ackWaitMs: 30_000 }, (m) => {
          deliveries.push(m.deliveryCount); // never acked: redelivered after each ack wait of clock time
        });
        await bus.publishDurable('wait', enc('x'));
        await waitFor(() => deliveries.length === 1, { message: 'the first delivery' });
        clock.advance(29_999);
        await bus.flush();
        expect(deliveries).toEqual([1]);
        clock.advance(1);
        await waitFor(() => deliveries.length === 2, { message: 'the redelivery after the ack wait' });
        expect(deliveries).toEqual([1, 2]);

        bus.subscribe('svc', () => {}); // a responder that never answers
        const pending = bus.request('svc', enc('?'), { timeoutMs: 5000 });
        let settled = false;
        pending.catch(() => {}).finally(() => (settled = true));
        await bus.flush();
        expect(settled).toBe(false);
        clock.advance(5000);
        await expect(pending).rejects.toBeInstanceOf(TimeoutError);
      } finally {
        await bus.close();
      }
    },
  );
});
