import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { MemoryBroker, MemoryBus, NoRespondersError, TimeoutError, type BusEvent, type DurableMsg, type KvWatchEvent } from '@backbeat/transport';
import { runConformance } from './conformance.js';
import { dec, enc } from './helpers.js';

runConformance('memory', async () => {
  const broker = new MemoryBroker();
  return { open: async () => new MemoryBus({ broker }), teardown: async () => {} };
});

describe('memory bus - simulated connection loss', () => {
  it('memory bus - while disconnected: publishes dropped and counted, nothing delivered; after: watchers catch up, consumers resume', async () => {
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
    expect(seen.map((e) => dec(e.value))).toEqual(['12', '14']); // the latest revision, as an ordered consumer resumes
    expect(consumed.map((m) => dec(m.data))).toEqual(['c1', 'c2']);
    pulse.publish('beat', enc('fresh'));
    await waitFor(() => beats.length === 1);
    expect(beats).toEqual(['fresh']);
    await agent.close();
    await pulse.close();
  });

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
