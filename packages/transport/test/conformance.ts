/**
 * One behaviour suite for every Bus implementation: MemoryBus must do what NatsBus does on a
 * real nats-server, so the embedded mode cannot drift from production. Core messaging here;
 * KV in conformance-kv.ts, streams in conformance-streams.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import {
  InvalidSubjectError,
  NoRespondersError,
  NotConnectedError,
  TimeoutError,
  TransportError,
  type BusEvent,
  type BusMsg,
} from '@backbeat/transport';
import { runKvConformance } from './conformance-kv.js';
import { runStreamConformance } from './conformance-streams.js';
import { dec, enc, type BusFactory, type Clients } from './helpers.js';

export type { BusFactory } from './helpers.js';

/** Runs the whole conformance suite against the buses `makeFactory` opens. */
export function runConformance(name: string, makeFactory: () => Promise<BusFactory>): void {
  describe(`bus conformance - ${name}`, () => {
    const c = {} as Clients;
    beforeAll(async () => {
      c.factory = await makeFactory();
      c.a = await c.factory.open();
      c.b = await c.factory.open();
    });
    afterAll(async () => {
      await c.a?.close();
      await c.b?.close();
      await c.factory?.teardown();
    });
    runCoreConformance(c);
    runKvConformance(c);
    runStreamConformance(c);
  });
}

function runCoreConformance(c: Clients): void {
  it('pubsub - delivers data and headers with their exact case, in order, to the publisher and to others', async () => {
    const own: BusMsg[] = [];
    const other: BusMsg[] = [];
    const s1 = c.a.subscribe('t.order', (m) => own.push(m));
    const s2 = c.b.subscribe('t.order', (m) => other.push(m));
    await c.a.flush();
    await c.b.flush();
    const headers = { 'Backbeat-Term': '7', 'x-agent-id': 'a:b', 'Nats-Msg-Id': 'm-1' };
    for (let i = 0; i < 20; i++) c.a.publish('t.order', enc(String(i)), { headers });
    await waitFor(() => own.length === 20 && other.length === 20, { message: '20 messages on both clients' });
    const expected = Array.from({ length: 20 }, (_, i) => String(i));
    expect(own.map((m) => dec(m.data))).toEqual(expected);
    expect(other.map((m) => dec(m.data))).toEqual(expected);
    expect(other[0]!.headers).toEqual(headers);
    expect(other[0]!.subject).toBe('t.order');
    expect(other[0]!.reply).toBeUndefined();
    s1.unsubscribe();
    s2.unsubscribe();
  });

  it('pubsub - wildcards: * is one token, > one or more at the end', async () => {
    const star: string[] = [];
    const gt: string[] = [];
    const s1 = c.b.subscribe('w.*.beat', (m) => star.push(m.subject));
    const s2 = c.b.subscribe('w.>', (m) => gt.push(m.subject));
    await c.b.flush();
    for (const s of ['w.a.beat', 'w.a.b.beat', 'w.b.beat', 'w.a', 'w', 'x.a.beat', 'w.end']) c.a.publish(s, enc('x'));
    await waitFor(() => gt.includes('w.end'), { message: 'the last > match' });
    expect(star.sort()).toEqual(['w.a.beat', 'w.b.beat']);
    expect(gt.sort()).toEqual(['w.a', 'w.a.b.beat', 'w.a.beat', 'w.b.beat', 'w.end']);
    s1.unsubscribe();
    s2.unsubscribe();
  });

  it('pubsub - a queue group across clients: each message to one member; plain subscribers get all', async () => {
    const a: number[] = [];
    const b: number[] = [];
    const all: number[] = [];
    const subs = [
      c.a.subscribe('q.work', (m) => a.push(Number(dec(m.data))), { queue: 'workers' }),
      c.b.subscribe('q.work', (m) => b.push(Number(dec(m.data))), { queue: 'workers' }),
      c.b.subscribe('q.work', (m) => all.push(Number(dec(m.data)))),
    ];
    await c.a.flush();
    await c.b.flush();
    for (let i = 0; i < 40; i++) c.a.publish('q.work', enc(String(i)));
    await waitFor(() => all.length === 40 && a.length + b.length === 40, { message: 'queue deliveries' });
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(all);
    subs.forEach((s) => s.unsubscribe());
  });

  it('pubsub - nothing arrives after unsubscribe', async () => {
    const got: string[] = [];
    const sentinel: string[] = [];
    const sub = c.b.subscribe('u.x', (m) => got.push(dec(m.data)));
    const guard = c.b.subscribe('u.sentinel', (m) => sentinel.push(dec(m.data)));
    await c.b.flush();
    c.a.publish('u.x', enc('before'));
    await waitFor(() => got.length === 1);
    sub.unsubscribe();
    sub.unsubscribe(); // idempotent
    await c.b.flush();
    c.a.publish('u.x', enc('after'));
    c.a.publish('u.sentinel', enc('done'));
    await waitFor(() => sentinel.length === 1, { message: 'the sentinel published after' });
    expect(got).toEqual(['before']);
    guard.unsubscribe();
  });

  it('pubsub - a handler that throws reports an error event and delivery goes on', async () => {
    const errors: Error[] = [];
    const off = c.b.onStatus((e: BusEvent) => e.type === 'error' && errors.push(e.error));
    const got: string[] = [];
    const sub = c.b.subscribe('h.err', (m) => {
      if (dec(m.data) === 'bad') throw new Error('handler failed');
      got.push(dec(m.data));
    });
    await c.b.flush();
    for (const s of ['ok1', 'bad', 'ok2']) c.a.publish('h.err', enc(s));
    await waitFor(() => got.length === 2, { message: 'both good messages' });
    expect(errors.map((e) => e.message)).toContain('handler failed');
    sub.unsubscribe();
    off();
  });

  it('pubsub - rejects bad subjects, queue names and oversized payloads the same way', () => {
    for (const bad of ['', 'a..b', 'a.', '.a', 'a b', 'a\tb', 'a.*', 'a.>'])
      expect(() => c.a.publish(bad, enc('x')), bad).toThrow(InvalidSubjectError);
    for (const bad of ['a.>.b', 'a..b', '', 'a b'])
      expect(() => c.a.subscribe(bad, () => {}), bad).toThrow(InvalidSubjectError);
    expect(() => c.a.subscribe('ok', () => {}, { queue: 'bad queue' })).toThrow(InvalidSubjectError);
    expect(() => c.a.publish('big.one', new Uint8Array(1024 * 1024 + 1))).toThrow(TransportError);
  });

  it('request - reply with headers; no responders at once; timeout', async () => {
    const sub = c.b.subscribe('rr.echo', (m) => m.respond(enc(`re:${dec(m.data)}`), { 'x-n': m.headers['x-n'] ?? '' }));
    await c.b.flush();
    const r = await c.a.request('rr.echo', enc('hi'), { headers: { 'x-n': '1' } });
    expect(dec(r.data)).toBe('re:hi');
    expect(r.headers['x-n']).toBe('1');
    sub.unsubscribe();
    await c.b.flush();
    const t0 = Date.now();
    await expect(c.a.request('rr.nobody', enc('x'), { timeoutMs: 3000 })).rejects.toBeInstanceOf(NoRespondersError);
    expect(Date.now() - t0).toBeLessThan(1000);
    const silent = c.b.subscribe('rr.silent', () => {});
    await c.b.flush();
    const err = await c.a.request('rr.silent', enc('x'), { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('BB_ERR_TIMEOUT');
    silent.unsubscribe();
  });

  it('close - a closed client throws NotConnectedError, reports closed, and leaves other clients working', async () => {
    const x = await c.factory.open();
    const events: string[] = [];
    x.onStatus((e) => events.push(e.type));
    const got: string[] = [];
    x.subscribe('cl.x', (m) => got.push(dec(m.data)));
    await x.close();
    await x.close(); // idempotent
    expect(events).toContain('closed');
    expect(x.status().connected).toBe(false);
    expect(() => x.publish('cl.x', enc('x'))).toThrow(NotConnectedError);
    expect(() => x.subscribe('cl.x', () => {})).toThrow(NotConnectedError);
    await expect(x.request('cl.x', enc('x'))).rejects.toBeInstanceOf(NotConnectedError);
    const still: string[] = [];
    const sub = c.b.subscribe('cl.x', (m) => still.push(dec(m.data)));
    await c.b.flush();
    c.a.publish('cl.x', enc('after'));
    await waitFor(() => still.length === 1, { message: 'delivery to a client still open' });
    expect(got).toEqual([]);
    sub.unsubscribe();
  });
}
