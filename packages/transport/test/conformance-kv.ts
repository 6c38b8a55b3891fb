/** The KV part of the conformance suite (see conformance.ts). */
import { expect, it } from 'vitest';
import { InvalidArgumentError } from '@backbeat/core';
import { waitFor } from '@backbeat/testing';
import { InvalidSubjectError, JetStreamNotFoundError, KvConflictError, type KvWatchEvent } from '@backbeat/transport';
import { dec, enc, unique, type Clients } from './helpers.js';

export function runKvConformance(c: Clients): void {
  it(
    'kv - create, update with revision, conflicts, delete and ' + 're-create; one revision sequence per bucket',
    async () => {
      const kv = await c.a.kv(unique('kv_cas_'));
      expect(await kv.get('leader')).toBeNull();
      const r1 = await kv.create('leader', enc('n1'));
      await expect(kv.create('leader', enc('n2'))).rejects.toBeInstanceOf(KvConflictError);
      const r2 = await kv.update('leader', enc('n1b'), r1);
      expect(r2).toBe(r1 + 1);
      await expect(kv.update('leader', enc('n3'), r1)).rejects.toMatchObject({
        code: 'BB_ERR_KV_CONFLICT',
        context: { key: 'leader', expectedRevision: r1 },
      });
      await expect(kv.update('leader', enc('n3'), 0)).rejects.toBeInstanceOf(InvalidArgumentError);
      const other = await kv.put('other', enc('x'));
      expect(other).toBe(r2 + 1); // across keys
      const entry = await kv.get('leader');
      expect(entry && { value: dec(entry.value), revision: entry.revision, key: entry.key }).toEqual({
        value: 'n1b',
        revision: r2,
        key: 'leader',
      });
      expect(Math.abs(entry!.created - Date.now())).toBeLessThan(5000);
      await expect(kv.delete('leader', { expectedRevision: r1 })).rejects.toBeInstanceOf(KvConflictError);
      await kv.delete('leader', { expectedRevision: r2 }); // the delete marker takes revision other + 1
      expect(await kv.get('leader')).toBeNull();
      expect(await kv.keys()).toEqual(['other']);
      expect(await kv.create('leader', enc('n2'))).toBe(other + 2);
      await expect(kv.get('bad key')).rejects.toBeInstanceOf(InvalidSubjectError);
      await expect(c.a.kv('bad.bucket')).rejects.toBeInstanceOf(InvalidSubjectError);
    },
  );

  it('kv - a bucket is shared by clients; create:false does not create one', async () => {
    const name = unique('kv_shared_');
    const mine = await c.a.kv(name);
    const rev = await mine.put('k', enc('v'));
    const theirs = await c.b.kv(name, { create: false });
    expect((await theirs.get('k'))?.revision).toBe(rev);
    await expect(c.b.kv(unique('kv_missing_'), { create: false })).rejects.toBeInstanceOf(JetStreamNotFoundError);
  });

  it('kv - watch sends current entries, then puts and deletes; > watches every key', async () => {
    const kv = await c.a.kv(unique('kv_watch_'));
    await kv.put('tempo', enc('12'));
    const one: KvWatchEvent[] = [];
    const all: KvWatchEvent[] = [];
    const w1 = await (await c.b.kv(kv.name)).watch('tempo', (e) => one.push(e));
    const w2 = await kv.watch('>', (e) => all.push(e));
    await waitFor(() => one.length === 1 && all.length === 1, { message: 'the current value' });
    await kv.put('tempo', enc('13'));
    await kv.put('pending', enc('x'));
    await kv.delete('tempo');
    await waitFor(() => one.length === 3 && all.length === 4, { message: 'put and delete events' });
    expect(one.map((e) => [e.operation, e.key, dec(e.value)])).toEqual([
      ['put', 'tempo', '12'],
      ['put', 'tempo', '13'],
      ['delete', 'tempo', ''],
    ]);
    expect(all.map((e) => e.key)).toEqual(['tempo', 'tempo', 'pending', 'tempo']);
    expect(all.map((e) => e.revision)).toEqual([1, 2, 3, 4]);
    w1.stop();
    w2.stop();
    await kv.put('tempo', enc('14'));
    const w3Seen: KvWatchEvent[] = [];
    const w3 = await kv.watch('tempo', (e) => w3Seen.push(e));
    await waitFor(() => w3Seen.length === 1);
    expect(one).toHaveLength(3); // stopped watchers hear nothing
    w3.stop();
  });

  it('kv - settings are read back from the server; an existing bucket keeps the TTL it was created with', async () => {
    const name = unique('kv_settings_');
    const kv = await c.a.kv(name, { ttlMs: 1500, history: 2 });
    expect(await kv.settings()).toEqual({ ttlMs: 1500, history: 2, replicas: 1, markerTtlMs: 0 });
    const again = await c.b.kv(name, { ttlMs: 9000, history: 1 });
    expect(await again.settings()).toEqual({ ttlMs: 1500, history: 2, replicas: 1, markerTtlMs: 0 });
  });

  it(
    'kv - limit markers: an expiry is a delete event with a revision of its own; ' +
      'create succeeds after; a bucket made without them takes them',
    async () => {
      const name = unique('kv_markers_');
      const plain = await c.a.kv(name, { ttlMs: 1000 });
      expect((await plain.settings()).markerTtlMs).toBe(0);
      const kv = await c.b.kv(name, { ttlMs: 1000, markerTtlMs: 1000 }); // updated in place
      expect(await kv.settings()).toMatchObject({ ttlMs: 1000, markerTtlMs: 1000 });
      const events: KvWatchEvent[] = [];
      const r1 = await kv.create('lease', enc('n1'));
      const w = await kv.watch('lease', (e) => events.push(e));
      await waitFor(() => events.length === 1, { message: 'the current value' });
      const written = Date.now();
      await waitFor(() => events.length === 2, {
        timeoutMs: 5000,
        intervalMs: 20,
        message: 'the limit marker of the expiry',
      });
      expect(Date.now() - written).toBeGreaterThanOrEqual(900);
      expect(events[1]).toMatchObject({ key: 'lease', operation: 'delete' });
      expect(events[1]!.revision).toBeGreaterThan(r1);
      expect(await kv.get('lease')).toBeNull();
      const r2 = await kv.create('lease', enc('n2'));
      expect(r2).toBeGreaterThan(events[1]!.revision);
      w.stop();
    },
  );

  it('kv - bucket TTL: entries expire without a watch event; create succeeds again, stale update fails', async () => {
    const kv = await c.a.kv(unique('kv_ttl_'), { ttlMs: 1000 });
    const events: KvWatchEvent[] = [];
    const r1 = await kv.create('lease', enc('n1'));
    const w = await kv.watch('lease', (e) => events.push(e));
    await waitFor(() => events.length === 1, { message: 'the current value' });
    await expect(kv.create('lease', enc('n2'))).rejects.toBeInstanceOf(KvConflictError);
    await waitFor(async () => (await kv.get('lease')) === null, {
      timeoutMs: 5000,
      intervalMs: 50,
      message: 'expiry by the bucket TTL',
    });
    expect(await kv.keys()).toEqual([]);
    await expect(kv.update('lease', enc('n1'), r1)).rejects.toBeInstanceOf(KvConflictError);
    const r2 = await kv.create('lease', enc('n2'));
    expect(r2).toBeGreaterThan(r1);
    await waitFor(() => events.length === 2, { message: 'the event of the new value' });
    expect(events.map((e) => [e.operation, dec(e.value)])).toEqual([
      ['put', 'n1'],
      ['put', 'n2'],
    ]); // nothing for the expiry (docs/spec.md §12 Known pitfalls)
    w.stop();
  });
}
