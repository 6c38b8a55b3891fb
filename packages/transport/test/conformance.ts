/**
 * One behaviour suite for every Bus implementation: MemoryBus must do what NatsBus does on a
 * real nats-server, so the embedded mode cannot drift from production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { KvConflictError, NoRespondersError, TimeoutError, InvalidSubjectError, type Bus, type BusMsg, type DurableMsg, type KvWatchEvent } from '@backbeat/transport';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
let counter = 0;
const unique = (p: string) => `${p}${Date.now().toString(36)}${(counter++).toString(36)}`;

/** Builds a connected bus; `second` gives another client on the same broker. */
export interface BusFactory {
  open(): Promise<Bus>;
}

export function runConformance(name: string, factory: () => Promise<BusFactory & { teardown(): Promise<void> }>): void {
  describe(`bus conformance - ${name}`, () => {
    let f: BusFactory & { teardown(): Promise<void> };
    let bus: Bus;
    beforeAll(async () => {
      f = await factory();
      bus = await f.open();
    });
    afterAll(async () => {
      await bus?.close();
      await f?.teardown();
    });

    it('pubsub - delivers data and headers with their exact case, in order', async () => {
      const got: BusMsg[] = [];
      const sub = bus.subscribe('t.order', (m) => got.push(m));
      await bus.flush();
      for (let i = 0; i < 20; i++) bus.publish('t.order', enc(String(i)), { headers: { 'Backbeat-Term': '7', 'x-agent-id': 'a:b' } });
      await waitFor(() => got.length === 20, { message: '20 messages' });
      expect(got.map((m) => dec(m.data))).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      expect(got[0]!.headers['Backbeat-Term']).toBe('7');
      expect(got[0]!.headers['x-agent-id']).toBe('a:b');
      sub.unsubscribe();
    });

    it('pubsub - wildcards * and > match like NATS', async () => {
      const star: string[] = [];
      const gt: string[] = [];
      const s1 = bus.subscribe('w.*.beat', (m) => star.push(m.subject));
      const s2 = bus.subscribe('w.>', (m) => gt.push(m.subject));
      await bus.flush();
      for (const s of ['w.a.beat', 'w.a.b.beat', 'w.b.beat', 'w.a', 'x.a.beat']) bus.publish(s, enc('x'));
      await waitFor(() => gt.length === 4, { message: 'four > matches' });
      await bus.flush();
      expect(star.sort()).toEqual(['w.a.beat', 'w.b.beat']);
      expect(gt.sort()).toEqual(['w.a', 'w.a.b.beat', 'w.a.beat', 'w.b.beat']);
      s1.unsubscribe();
      s2.unsubscribe();
    });

    it('pubsub - a queue group shares messages, plain subscribers get all', async () => {
      const a: number[] = [];
      const b: number[] = [];
      const all: number[] = [];
      const subs = [
        bus.subscribe('q.work', (m) => a.push(Number(dec(m.data))), { queue: 'g' }),
        bus.subscribe('q.work', (m) => b.push(Number(dec(m.data))), { queue: 'g' }),
        bus.subscribe('q.work', (m) => all.push(Number(dec(m.data)))),
      ];
      await bus.flush();
      for (let i = 0; i < 40; i++) bus.publish('q.work', enc(String(i)));
      await waitFor(() => all.length === 40 && a.length + b.length === 40, { message: 'queue deliveries' });
      expect([...a, ...b].sort((x, y) => x - y)).toEqual(all);
      subs.forEach((s) => s.unsubscribe());
    });

    it('pubsub - rejects bad subjects the same way', () => {
      expect(() => bus.publish('a..b', enc('x'))).toThrow(InvalidSubjectError);
      expect(() => bus.publish('a.*', enc('x'))).toThrow(InvalidSubjectError);
      expect(() => bus.subscribe('a.>.b', () => {})).toThrow(InvalidSubjectError);
      expect(() => bus.publish('a b', enc('x'))).toThrow(InvalidSubjectError);
    });

    it('request - reply with headers; no responders; timeout', async () => {
      const sub = bus.subscribe('rr.echo', (m) => m.respond(enc(`re:${dec(m.data)}`), { 'x-n': m.headers['x-n'] ?? '' }));
      await bus.flush();
      const r = await bus.request('rr.echo', enc('hi'), { headers: { 'x-n': '1' } });
      expect(dec(r.data)).toBe('re:hi');
      expect(r.headers['x-n']).toBe('1');
      sub.unsubscribe();
      await bus.flush();
      await expect(bus.request('rr.nobody', enc('x'), { timeoutMs: 1000 })).rejects.toBeInstanceOf(NoRespondersError);
      const silent = bus.subscribe('rr.silent', () => {});
      await bus.flush();
      await expect(bus.request('rr.silent', enc('x'), { timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
      silent.unsubscribe();
    });

    it('kv - create, update with revision, conflicts, delete and re-create', async () => {
      const kv = await bus.kv(unique('kv_cas_'));
      expect(await kv.get('leader')).toBeNull();
      const r1 = await kv.create('leader', enc('n1'));
      await expect(kv.create('leader', enc('n2'))).rejects.toBeInstanceOf(KvConflictError);
      const r2 = await kv.update('leader', enc('n1b'), r1);
      expect(r2).toBeGreaterThan(r1);
      await expect(kv.update('leader', enc('n3'), r1)).rejects.toBeInstanceOf(KvConflictError);
      const other = await kv.put('other', enc('x'));
      expect(other).toBe(r2 + 1); // one revision sequence per bucket, across keys
      const entry = await kv.get('leader');
      expect(entry && dec(entry.value)).toBe('n1b');
      expect(entry?.revision).toBe(r2);
      await expect(kv.delete('leader', { expectedRevision: r1 })).rejects.toBeInstanceOf(KvConflictError);
      await kv.delete('leader', { expectedRevision: r2 });
      expect(await kv.get('leader')).toBeNull();
      expect(await kv.keys()).toEqual(['other']);
      const r4 = await kv.create('leader', enc('n2'));
      expect(r4).toBeGreaterThan(other);
    });

    it('kv - watch sees the current value then puts and deletes', async () => {
      const kv = await bus.kv(unique('kv_watch_'));
      await kv.put('tempo', enc('12'));
      const seen: KvWatchEvent[] = [];
      const w = await kv.watch('tempo', (e) => seen.push(e));
      await waitFor(() => seen.length === 1, { message: 'the current value' });
      await kv.put('tempo', enc('13'));
      await kv.delete('tempo');
      await waitFor(() => seen.length === 3, { message: 'put and delete events' });
      expect(seen.map((e) => [e.operation, dec(e.value)])).toEqual([
        ['put', '12'],
        ['put', '13'],
        ['delete', ''],
      ]);
      w.stop();
    });

    it('kv - bucket TTL expires entries (no watch event), and create succeeds again', async () => {
      const kv = await bus.kv(unique('kv_ttl_'), { ttlMs: 1000 });
      const events: KvWatchEvent[] = [];
      await kv.create('lease', enc('n1'));
      const w = await kv.watch('lease', (e) => events.push(e));
      await waitFor(() => events.length === 1, { message: 'the current value' });
      await expect(kv.create('lease', enc('n2'))).rejects.toBeInstanceOf(KvConflictError);
      await waitFor(async () => (await kv.get('lease')) === null, { timeoutMs: 5000, intervalMs: 50, message: 'expiry' });
      expect(events).toHaveLength(1);
      const r = await kv.create('lease', enc('n2'));
      expect(r).toBeGreaterThan(0);
      w.stop();
    });

    it('stream - durable publish acknowledges, de-duplicates by msgId, and reads back', async () => {
      const name = unique('S_DEDUPE_');
      const subject = `${name}.in`;
      await bus.ensureStream({ name, subjects: [subject], duplicateWindowMs: 60_000 });
      const a = await bus.publishDurable(subject, enc('one'), { msgId: 'm1', headers: { 'x-agent-id': 'a:b' } });
      const b = await bus.publishDurable(subject, enc('one again'), { msgId: 'm1' });
      const c = await bus.publishDurable(subject, enc('two'), { msgId: 'm2' });
      expect(a).toMatchObject({ stream: name, duplicate: false });
      expect(b).toMatchObject({ duplicate: true, seq: a.seq });
      expect(c.seq).toBe(a.seq + 1);
      bus.publish(subject, enc('core'));
      await bus.flush();
      const stored = await waitFor(async () => {
        const s = await bus.readStream({ stream: name });
        return s.length === 3 ? s : null;
      });
      expect(stored.map((m) => dec(m.data))).toEqual(['one', 'two', 'core']);
      expect(stored[0]!.headers['x-agent-id']).toBe('a:b');
      expect((await bus.readStream({ stream: name, last: true, limit: 2 })).map((m) => dec(m.data))).toEqual(['two', 'core']);
      expect((await bus.readStream({ stream: name, fromSeq: c.seq, limit: 1 })).map((m) => dec(m.data))).toEqual(['two']);
      expect(stored.every((m) => m.time > Date.now() - 60_000 && m.time <= Date.now())).toBe(true);
      const fromTime = stored[2]!.time;
      const byTime = await bus.readStream({ stream: name, fromTime });
      expect(byTime.map((m) => dec(m.data))).toContain('core');
      expect(byTime.every((m) => m.time >= fromTime)).toBe(true);
      expect(await bus.readStream({ stream: name, fromTime: Date.now() + 60_000 })).toEqual([]);
      await expect(bus.publishDurable(`${name}x.none`, enc('x'), { timeoutMs: 1000 })).rejects.toBeInstanceOf(NoRespondersError);
    });

    it('stream - durable consumer: ack, redelivery after ackWait, resume after restart', async () => {
      const name = unique('S_CONSUME_');
      const subject = `${name}.claims`;
      await bus.ensureStream({ name, subjects: [subject] });
      for (let i = 0; i < 5; i++) await bus.publishDurable(subject, enc(String(i)));
      const seen: DurableMsg[] = [];
      const c1 = await bus.consume({ stream: name, durable: 'reverb', ackWaitMs: 1000 }, (m) => {
        seen.push(m);
        if (dec(m.data) !== '2' || m.deliveryCount > 1) m.ack(); // leave 2 unacked once
      });
      await waitFor(() => seen.some((m) => dec(m.data) === '2' && m.redelivered), { timeoutMs: 8000, message: 'redelivery of 2' });
      const redelivered = seen.find((m) => m.redelivered)!;
      expect(redelivered.deliveryCount).toBe(2);
      expect(Math.abs(redelivered.time - Date.now())).toBeLessThan(30_000); // stored time, not delivery time
      await c1.stop();
      for (let i = 5; i < 8; i++) await bus.publishDurable(subject, enc(String(i)));
      const resumed: string[] = [];
      const c2 = await bus.consume({ stream: name, durable: 'reverb', ackWaitMs: 1000 }, (m) => {
        resumed.push(dec(m.data));
        m.ack();
      });
      await waitFor(() => resumed.length >= 3, { timeoutMs: 5000, message: 'messages after restart' });
      expect(resumed).toEqual(['5', '6', '7']);
      await c2.stop();
    });
  });
}
