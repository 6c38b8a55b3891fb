/** The stream part of the conformance suite (see conformance.ts). */
import { expect, it } from 'vitest';
import { InvalidArgumentError } from '@backbeat/core';
import { waitFor } from '@backbeat/testing';
import {
  InvalidSubjectError,
  JetStreamNotFoundError,
  NoRespondersError,
  REPUBLISH_HEADERS,
  StreamRefusedError,
  TransportError,
  type BusMsg,
  type DurableMsg,
} from '@backbeat/transport';
import { dec, enc, unique, type Clients } from './helpers.js';

export function runStreamConformance(c: Clients): void {
  it('stream - durable publish acknowledges, de-duplicates by msgId, captures core publishes, reads back', async () => {
    const name = unique('S_DEDUPE_');
    await c.a.ensureStream({ name, subjects: [`${name}.>`], duplicateWindowMs: 60_000 });
    await c.b.ensureStream({ name, subjects: [`${name}.>`], duplicateWindowMs: 60_000 }); // idempotent
    const a = await c.a.publishDurable(`${name}.in`, enc('one'), { msgId: 'm1', headers: { 'x-agent-id': 'a:b' } });
    const b = await c.b.publishDurable(`${name}.in`, enc('one again'), { msgId: 'm1' });
    const d = await c.a.publishDurable(`${name}.other`, enc('two'), { msgId: 'm2' });
    expect(a).toEqual({ stream: name, seq: 1, duplicate: false });
    expect(b).toEqual({ stream: name, seq: 1, duplicate: true });
    expect(d).toEqual({ stream: name, seq: 2, duplicate: false });
    const before = Date.now();
    await waitFor(() => Date.now() >= before + 3, { message: 'a later millisecond' });
    c.a.publish(`${name}.in`, enc('core'));
    await c.a.flush();
    const stored = await waitFor(async () => {
      const s = await c.b.readStream({ stream: name });
      return s.length === 3 ? s : null;
    });
    expect(stored.map((m) => [m.seq, m.subject, dec(m.data)])).toEqual([
      [1, `${name}.in`, 'one'],
      [2, `${name}.other`, 'two'],
      [3, `${name}.in`, 'core'],
    ]);
    expect(stored[0]!.headers).toEqual({ 'x-agent-id': 'a:b', 'Nats-Msg-Id': 'm1' });
    const read = async (o: object) => (await c.a.readStream({ stream: name, ...o })).map((m) => dec(m.data));
    expect(await read({ last: true, limit: 2 })).toEqual(['two', 'core']);
    expect(await read({ fromSeq: 2, limit: 1 })).toEqual(['two']);
    expect(await read({ subject: `${name}.in` })).toEqual(['one', 'core']);
    expect(await read({ subject: `${name}.in`, last: true, limit: 1 })).toEqual(['core']);
    expect(await read({ fromTime: stored[2]!.time })).toEqual(['core']);
    expect(await read({ fromSeq: 9 })).toEqual([]);
    await expect(c.a.publishDurable(`${name}x.none`, enc('x'), { timeoutMs: 1000 })).rejects.toBeInstanceOf(
      NoRespondersError,
    );
  });

  it(
    'stream - republish: each stored message once on the destination, in order, with the stream headers; a ' +
      'duplicate is not republished; an existing stream takes it, a config without it keeps it',
    async () => {
      const name = unique('S_REPUB_');
      const dest = `${name}_out`;
      const republish = { source: `${name}.in`, destination: dest };
      await c.a.ensureStream({ name, subjects: [`${name}.>`] });
      await c.a.publishDurable(`${name}.in`, enc('before'), { msgId: 'm0' });
      const got: BusMsg[] = [];
      c.b.subscribe(dest, (m) => got.push(m));
      await c.b.flush();
      await c.b.ensureStream({ name, subjects: [`${name}.>`], republish }); // an existing stream takes it in place
      await c.a.ensureStream({ name, subjects: [`${name}.>`] }); // a config without it keeps it
      await c.a.publishDurable(`${name}.in`, enc('one'), { msgId: 'm1', headers: { 'x-agent-id': 'a:b' } });
      await c.b.publishDurable(`${name}.in`, enc('one again'), { msgId: 'm1' });
      await c.a.publishDurable(`${name}.other`, enc('not its source'));
      await c.a.publishDurable(`${name}.in`, enc('two'));
      await waitFor(() => got.length >= 2, { message: 'the republished messages' });
      await c.a.publishDurable(`${name}.in`, enc('three'));
      await waitFor(() => got.length >= 3, { message: 'the last republished message' });
      const h = REPUBLISH_HEADERS;
      const seen = got.map((m) => [
        dec(m.data),
        ...[h.stream, h.subject, h.sequence, h.lastSequence].map((k) => m.headers[k]),
      ]);
      expect(seen).toEqual([
        ['one', name, `${name}.in`, '2', '1'],
        ['two', name, `${name}.in`, '4', '2'],
        ['three', name, `${name}.in`, '5', '4'],
      ]);
      expect(got[0]!.headers).toMatchObject({ 'x-agent-id': 'a:b', 'Nats-Msg-Id': 'm1' });
      expect(Number.isNaN(Date.parse(got[0]!.headers[h.timeStamp]!))).toBe(false);
      const bad = (republish: { source: string; destination: string }) =>
        c.a.ensureStream({ name: unique('S_BAD_'), subjects: [`${name}x.>`], republish });
      await expect(bad({ source: `${name}x.in`, destination: `${name}x.out` })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      ); // a cycle
      await expect(bad({ source: `${name}y.in`, destination: `${name}y.out` })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      ); // not its subject
      await expect(bad({ source: `${name}x.in`, destination: `${name}y.*` })).rejects.toBeInstanceOf(
        InvalidSubjectError,
      );
    },
  );

  it('stream - limits, configuration rules and missing streams', async () => {
    const name = unique('S_LIMITS_');
    await c.a.ensureStream({ name, subjects: [`${name}.*`], maxMsgs: 3 });
    for (let i = 0; i < 5; i++) await c.a.publishDurable(`${name}.x`, enc(String(i)));
    expect((await c.a.readStream({ stream: name })).map((m) => [m.seq, dec(m.data)])).toEqual([
      [3, '2'],
      [4, '3'],
      [5, '4'],
    ]);
    await c.a.ensureStream({ name, subjects: [`${name}.*`], maxMsgs: 2 }); // an update applies at once
    expect((await c.a.readStream({ stream: name })).map((m) => m.seq)).toEqual([4, 5]);
    await expect(c.a.ensureStream({ name: unique('S_OVERLAP_'), subjects: [`${name}.x`] })).rejects.toBeInstanceOf(
      TransportError,
    );
    await expect(
      c.a.ensureStream({ name: unique('S_AGE_'), subjects: [unique('age.')], maxAgeMs: 1000, duplicateWindowMs: 5000 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    // default window shrinks to fit
    await c.a.ensureStream({ name: unique('S_AGE_'), subjects: [unique('age.')], maxAgeMs: 30_000 });
    await expect(c.a.ensureStream({ name: 'bad.name', subjects: ['bad.name'] })).rejects.toBeInstanceOf(
      InvalidSubjectError,
    );
    await expect(c.a.readStream({ stream: unique('S_NONE_') })).rejects.toBeInstanceOf(JetStreamNotFoundError);
    await expect(c.a.consume({ stream: unique('S_NONE_'), durable: 'd' }, () => {})).rejects.toBeInstanceOf(
      JetStreamNotFoundError,
    );
  });

  it(
    'stream - maxMsgSize and discard new: a large message or one more than a full stream ' +
      'holds is refused (StreamRefusedError), nothing stored is dropped',
    async () => {
      const name = unique('S_REFUSE_');
      await c.a.ensureStream({ name, subjects: [`${name}.*`], maxMsgs: 3, maxMsgSize: 1000, discard: 'new' });
      const big = await c.a.publishDurable(`${name}.x`, new Uint8Array(2000)).catch((e: unknown) => e);
      expect(big).toBeInstanceOf(StreamRefusedError);
      expect((big as StreamRefusedError).context).toEqual({ subject: `${name}.x`, reason: 'too_large' });
      for (let i = 0; i < 3; i++) await c.a.publishDurable(`${name}.x`, enc(String(i)));
      const full = await c.a.publishDurable(`${name}.x`, enc('3')).catch((e: unknown) => e);
      expect(full).toBeInstanceOf(StreamRefusedError);
      expect((full as StreamRefusedError).context.reason).toBe('full');
      c.a.publish(`${name}.x`, enc('core')); // a core publish the stream refuses is just not stored
      await c.a.flush();
      expect((await c.a.readStream({ stream: name })).map((m) => dec(m.data))).toEqual(['0', '1', '2']);
      await expect(
        c.a.ensureStream({ name: unique('S_DISCARD_'), subjects: [unique('d.')], discard: 'both' as 'new' }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    },
  );

  it(
    'stream - reads: from below the first, past the end, more than one ' +
      'pull, big messages, a subject; no reader left behind',
    async () => {
      const name = unique('S_READS_');
      await c.a.ensureStream({ name, subjects: [`${name}.*`], maxMsgs: 2500 });
      for (let i = 0; i < 3000; i++) c.a.publish(`${name}.${i % 3 === 0 ? 'a' : 'b'}`, enc(String(i)));
      await c.a.flush();
      await waitFor(async () => (await c.a.streamState(name)).lastSeq === 3000, { message: '3000 messages stored' });
      const seqs = async (o: object) => (await c.b.readStream({ stream: name, ...o })).map((m) => m.seq);
      expect(await seqs({ fromSeq: 1, limit: 3 })).toEqual([501, 502, 503]); // below the first stored
      expect(await seqs({ fromSeq: 2999, limit: 5 })).toEqual([2999, 3000]);
      expect(await seqs({ fromSeq: 3001 })).toEqual([]);
      const many = await c.b.readStream({ stream: name, fromSeq: 700, limit: 1500 }); // above one pull of 1,000
      expect(many.map((m) => m.seq)).toEqual(Array.from({ length: 1500 }, (_, k) => 700 + k));
      expect(many.map((m) => dec(m.data))).toEqual(Array.from({ length: 1500 }, (_, k) => String(699 + k)));
      expect(many[0]).toMatchObject({ subject: `${name}.a` });
      expect(Math.abs(many[0]!.time - Date.now())).toBeLessThan(60_000);
      expect(await seqs({ fromSeq: 2990, subject: `${name}.a`, limit: 10 })).toEqual([2992, 2995, 2998]);
      // Messages of 700 kB: a read of 30 (21 MB) is answered in several pulls.
      const big = unique('S_BIG_');
      await c.a.ensureStream({ name: big, subjects: [`${big}.x`] });
      const payload = new Uint8Array(700_000).fill(65);
      for (let i = 0; i < 30; i++) await c.a.publishDurable(`${big}.x`, payload, { headers: { 'x-n': String(i) } });
      const heavy = await c.b.readStream({ stream: big, limit: 50 });
      expect(heavy.map((m) => m.headers['x-n'])).toEqual(Array.from({ length: 30 }, (_, k) => String(k)));
      expect(heavy.every((m) => m.data.length === 700_000)).toBe(true);
      expect(await c.b.listConsumers(name)).toEqual([]);
      expect(await c.b.listConsumers(big)).toEqual([]);
    },
  );

  it('stream - durable consumer: ack, redelivery after ackWait, resume after stop with what is left', async () => {
    const name = unique('S_CONSUME_');
    const subject = `${name}.claims`;
    await c.a.ensureStream({ name, subjects: [subject] });
    for (let i = 0; i < 5; i++) await c.a.publishDurable(subject, enc(String(i)));
    const seen: DurableMsg[] = [];
    const c1 = await c.b.consume({ stream: name, durable: 'reverb', ackWaitMs: 1000 }, (m) => {
      seen.push(m);
      if (dec(m.data) !== '2' || m.deliveryCount > 1) m.ack(); // leave 2 unacked once
    });
    await waitFor(() => seen.some((m) => dec(m.data) === '2' && m.redelivered), {
      timeoutMs: 8000,
      message: 'redelivery of 2 after ackWait',
    });
    const again = seen.find((m) => m.redelivered)!;
    expect([again.seq, again.deliveryCount, dec(again.data)]).toEqual([3, 2, '2']);
    expect(seen.slice(0, 5).map((m) => dec(m.data))).toEqual(['0', '1', '2', '3', '4']);
    expect(Math.abs(seen[0]!.time - Date.now())).toBeLessThan(10_000);
    await c1.stop();
    for (let i = 5; i < 8; i++) await c.a.publishDurable(subject, enc(String(i)));
    const resumed: string[] = [];
    const c2 = await c.a.consume({ stream: name, durable: 'reverb', ackWaitMs: 1000 }, (m) => {
      resumed.push(dec(m.data));
      m.ack();
    });
    await waitFor(() => resumed.length >= 3, { timeoutMs: 5000, message: 'messages after the restart' });
    // On NATS a pull of the stopped consumer may still take one, which then waits out ackWait:
    // every message arrives, not necessarily in order.
    expect([...resumed].sort()).toEqual(['5', '6', '7']);
    await c2.stop();
  });

  it(
    'stream - nak redelivers, term drops, a throwing handler naks, ' +
      'maxDeliver stops, filter and deliverPolicy apply',
    async () => {
      const name = unique('S_NAK_');
      await c.a.ensureStream({ name, subjects: [`${name}.*`] });
      await c.a.publishDurable(`${name}.skip`, enc('old'));
      const log: string[] = [];
      const consumer = await c.b.consume(
        {
          stream: name,
          durable: 'd1',
          filterSubject: `${name}.keep`,
          deliverPolicy: 'all',
          maxDeliver: 2,
          ackWaitMs: 30_000,
        },
        (m) => {
          const body = dec(m.data);
          log.push(`${body}#${m.deliveryCount}`);
          if (body === 'nak' && m.deliveryCount === 1) m.nak(50);
          else if (body === 'term') m.term();
          else if (body === 'throw') throw new Error('handler failed');
          else m.ack();
        },
      );
      for (const body of ['nak', 'term', 'throw', 'fine']) await c.a.publishDurable(`${name}.keep`, enc(body));
      await c.a.publishDurable(`${name}.skip`, enc('filtered out'));
      await waitFor(() => log.includes('nak#2') && log.includes('throw#2') && log.includes('fine#1'), {
        message: 'redeliveries',
      });
      const sentinel = await c.a.publishDurable(`${name}.keep`, enc('sentinel'));
      await waitFor(() => log.includes('sentinel#1'));
      expect(sentinel.seq).toBe(7);
      expect(log.filter((l) => l.startsWith('term'))).toEqual(['term#1']);
      expect(log.filter((l) => l.startsWith('throw'))).toEqual(['throw#1', 'throw#2']); // maxDeliver 2
      expect(log.some((l) => l.startsWith('old') || l.startsWith('filtered'))).toBe(false);
      await consumer.stop();

      const fresh: string[] = [];
      const late = await c.b.consume({ stream: name, durable: 'd2', deliverPolicy: 'new' }, (m) => {
        fresh.push(dec(m.data));
        m.ack();
      });
      await c.a.publishDurable(`${name}.keep`, enc('new one'));
      await waitFor(() => fresh.length === 1);
      expect(fresh).toEqual(['new one']);
      await late.stop();
    },
  );

  it(
    'stream - lookups by sequence and last by subject, stream state, ' +
      'consumers listed and deleted, a durable started at a time',
    async () => {
      const name = unique('S_LOOKUP_');
      await c.a.ensureStream({ name, subjects: [`${name}.*`] });
      await expect(c.a.streamState(name)).resolves.toEqual({ firstSeq: 1, lastSeq: 0, messages: 0 });
      for (const [sub, body] of [
        ['a', 'a1'],
        ['b', 'b1'],
        ['a', 'a2'],
        ['b', 'b2'],
      ] as const)
        await c.a.publishDurable(`${name}.${sub}`, enc(body));
      expect(await c.b.streamState(name)).toEqual({ firstSeq: 1, lastSeq: 4, messages: 4 });
      const get = async (q: Parameters<typeof c.a.getStreamMsg>[1]) => {
        const m = await c.b.getStreamMsg(name, q);
        return m && [m.seq, dec(m.data)];
      };
      expect(await get({ seq: 2 })).toEqual([2, 'b1']);
      expect(await get({ seq: 2, subject: `${name}.a` })).toEqual([3, 'a2']);
      expect(await get({ seq: 4, subject: `${name}.a` })).toBeUndefined();
      expect(await get({ lastBySubject: `${name}.b` })).toEqual([4, 'b2']);
      expect(await get({ lastBySubject: `${name}.none` })).toBeUndefined();
      const stored = await c.a.readStream({ stream: name });
      const got: string[] = [];
      const later = await c.b.consume({ stream: name, durable: 'from_time', startTime: stored[2]!.time }, (m) => {
        got.push(dec(m.data));
        m.ack();
      });
      await waitFor(() => got.length >= 2, { message: 'messages from the start time' });
      // The first message stored at or after the start time (on the in-memory bus several can share its millisecond).
      expect(got[0]).toBe(dec(stored.find((m) => m.time >= stored[2]!.time)!.data));
      await waitFor(
        async () =>
          (await c.a.listConsumers(name)).some(
            (x) => x.name === 'from_time' && x.waiting > 0 && x.pending === 0 && x.deliveredSeq === 4,
          ),
        { message: 'an attached durable' },
      );
      await later.stop();
      const idle = await c.b.consume({ stream: name, durable: 'idle', deliverPolicy: 'new' }, (m) => m.ack());
      await idle.stop();
      const list = await c.a.listConsumers(name);
      expect(
        list
          .filter((x) => x.durable)
          .map((x) => x.name)
          .sort(),
      ).toEqual(['from_time', 'idle']);
      expect(await c.a.deleteConsumer(name, 'idle')).toBe(true);
      expect(await c.a.deleteConsumer(name, 'idle')).toBe(false);
      expect((await c.a.listConsumers(name)).map((x) => x.name)).not.toContain('idle');
      await expect(c.a.getStreamMsg(unique('S_NONE_'), { seq: 1 })).rejects.toBeInstanceOf(JetStreamNotFoundError);
      await expect(c.a.listConsumers(unique('S_NONE_'))).rejects.toBeInstanceOf(JetStreamNotFoundError);
    },
  );

  it(
    'stream - ackPolicy all: an ack settles every message before it; a ' +
      'durable that changes policy resumes after its floor',
    async () => {
      const name = unique('S_ACKALL_');
      const subject = `${name}.claims`;
      await c.a.ensureStream({ name, subjects: [subject] });
      for (let i = 0; i < 6; i++) await c.a.publishDurable(subject, enc(String(i)));
      const seen: string[] = [];
      const all = await c.b.consume({ stream: name, durable: 'batch', ackPolicy: 'all', ackWaitMs: 1000 }, (m) => {
        const body = dec(m.data);
        seen.push(`${body}#${m.deliveryCount}`);
        if (body === '3' || m.redelivered) m.ack(); // acks 3 (so 0..3), not 4 and 5 on their first delivery
      });
      await waitFor(() => seen.includes('5#2'), { timeoutMs: 8000, message: 'redelivery of 4 and 5 after ackWait' });
      await waitFor(async () => (await c.a.listConsumers(name)).some((x) => x.name === 'batch' && x.ackPending === 0), {
        message: 'every message settled',
      });
      expect(seen.filter((x) => x.endsWith('#1'))).toEqual(['0#1', '1#1', '2#1', '3#1', '4#1', '5#1']);
      expect(seen.filter((x) => !x.endsWith('#1')).sort()).toEqual(['4#2', '5#2']); // 0..2 were settled by the ack of 3
      await all.stop();
      for (let i = 6; i < 8; i++) await c.a.publishDurable(subject, enc(String(i)));
      const after: string[] = [];
      const explicit = await c.b.consume({ stream: name, durable: 'batch', ackWaitMs: 1000 }, (m) => {
        after.push(dec(m.data));
        m.ack();
      });
      await waitFor(() => after.length >= 2, { message: 'messages after the policy change' });
      expect(after.sort()).toEqual(['6', '7']);
      await explicit.stop();
    },
  );
}
