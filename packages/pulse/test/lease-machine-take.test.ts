/**
 * The lease machine taking the lease, one example per transition (docs/spec.md §7 Election,
 * terms and fencing): `step` driven directly with events and a time. No KV, no timers.
 */
import { describe, expect, it } from 'vitest';
import { mayPublish } from '@backbeat/pulse/internal';
import { TTL, MARGIN, T, cfg, ok, fail, record, Drive } from './lease-drive.js';

describe('lease machine - take', () => {
  it('take - an absent lease: create it, count term 1 on the counter, then publish until sent + TTL - margin', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    expect(d.op).toEqual({ key: 'lease', op: 'get' });
    d.answer(ok({ lease: null }));
    expect(d.op).toEqual({ key: 'term', op: 'get' });
    d.answer(ok({ counter: null }));
    expect(d.op).toMatchObject({
      key: 'lease',
      op: 'create',
      value: { node_id: 'a', term: 1, reason: 'first leader' },
    });
    d.answer(ok({ revision: 7 }));
    expect(d.op).toMatchObject({ key: 'term', op: 'create', value: { term: 1, node_id: 'a' } });
    d.answer(ok({ revision: 1 }), 1010);
    const until = 1000 + TTL - MARGIN;
    expect(d.of('deadline')).toEqual([
      { type: 'deadline', validUntil: until, term: 1, quorumUntil: until, quorumSentAt: until - (TTL - MARGIN) },
    ]);
    expect(d.logs()).toContain('became leader');
    expect(d.fx).toContainEqual({ type: 'arm', timer: 'tick', at: 1010 + TTL / 4 });
    expect(d.state).toMatchObject({ isLeader: true, term: 1, revision: 7, leaderId: 'a' });
    expect(mayPublish(d.state, 1000 + TTL - MARGIN - 1)).toBe(true);
    expect(mayPublish(d.state, 1000 + TTL - MARGIN)).toBe(false);
  });

  it('take - a lease of another node is followed; a takeover armed for when its holder must have fenced itself', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    d.answer(ok({ lease: { value: record('b', 4), revision: 9, created: 900 } }));
    expect(d.state).toMatchObject({ isLeader: false, leaderId: 'b', term: 4 });
    expect(d.fx).toContainEqual({ type: 'arm', timer: 'takeover', at: 900 + TTL - MARGIN + 2 * 20 + 50 });
    expect(d.fx).toContainEqual({ type: 'arm', timer: 'tick', at: 1000 + Math.min(250, TTL / 8) });
    // Without a clock-offset bound there is no takeover.
    const e = new Drive({ ...cfg, clockOffsetBoundMs: undefined });
    e.send({ type: 'start' });
    e.answer(ok({ lease: { value: record('b', 4), revision: 9, created: 900 } }));
    expect(e.of('arm').map((x) => x.timer)).toEqual(['tick']);
  });

  it('take - a due takeover replaces the revision seen by compare-and-set, without reading the lease first', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    d.answer(ok({ lease: { value: record('b', 4), revision: 9, created: 900 } }));
    d.send({ type: 'timer', timer: 'takeover' }, 1900);
    expect(d.fx).toContainEqual({ type: 'arm', timer: 'tick', at: 1900 });
    d.send({ type: 'timer', timer: 'tick' });
    expect(d.op).toEqual({ key: 'term', op: 'get' });
    d.answer(ok({ counter: { value: { term: 4, node_id: 'b', acquired_at: '' }, revision: 4 } }));
    expect(d.op).toMatchObject({
      key: 'lease',
      op: 'update',
      expectedRevision: 9,
      value: { term: 5, previous_node: 'b' },
    });
  });

  it('take - a lost create race follows the winner; a lost count race takes the next term; the 4th ends it', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    d.answer(ok({ lease: null }));
    d.answer(ok({ counter: null }));
    d.answer(fail('conflict'));
    expect(d.op).toEqual({ key: 'lease', op: 'get' });
    d.answer(ok({ lease: { value: record('b', 1), revision: 1, created: 1000 } }));
    expect(d.state).toMatchObject({ isLeader: false, leaderId: 'b', term: 1 });

    const e = new Drive();
    e.send({ type: 'start' });
    e.answer(ok({ lease: null }));
    e.answer(ok({ counter: null }));
    e.answer(ok({ revision: 3 }));
    for (let n = 0; n < 3; n++) {
      e.answer(fail('conflict'));
      expect(e.op).toEqual({ key: 'term', op: 'get' });
      e.answer(ok({ counter: { value: { term: 5 + n, node_id: 'x', acquired_at: '' }, revision: 10 + n } }));
      expect(e.op).toMatchObject({ key: 'lease', op: 'update', value: { term: 6 + n } });
      e.answer(ok({ revision: 4 + n }));
      expect(e.op).toMatchObject({ key: 'term', op: 'update', expectedRevision: 10 + n, value: { term: 6 + n } });
    }
    e.answer(fail('conflict'));
    expect(e.op).toEqual({ key: 'lease', op: 'delete', expectedRevision: 6 });
    e.answer(ok());
    expect(e.state).toMatchObject({ isLeader: false, busy: false });
    expect(e.state.reach.reachable).toBe(false);
  });

  it('take - a node its clock check refuses does not take an absent lease', () => {
    const d = new Drive();
    d.refusal = 'clock offset 40 ms beyond 20 ms';
    d.send({ type: 'start' });
    d.answer(ok({ lease: null }));
    expect(d.of('kv')).toEqual([]);
    expect(d.fx).toContainEqual({ type: 'idle' });
  });

  it('take - after a KV failure: a head start for the incumbent, then the lease taken behind the guard', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    d.answer(ok({ lease: { value: record('b', 1), revision: 1, created: 900 } }));
    d.send({ type: 'timer', timer: 'tick' }, 1125);
    d.answer(fail('no-responders')); // the lease stream has no leader
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(ok({ lease: null }), 1250);
    expect(d.of('kv')).toEqual([]); // the head start: b may re-create it
    d.send({ type: 'timer', timer: 'tick' }, 1560);
    d.answer(ok({ lease: null }), 1560);
    d.answer(ok({ counter: { value: { term: 1, node_id: 'b', acquired_at: '' }, revision: 1 } }));
    d.answer(ok({ revision: 2 }));
    d.answer(ok({ revision: 2 }), 1570);
    expect(d.state).toMatchObject({ isLeader: true, term: 2, publishFrom: 1570 + T.handoverGuardMs });
    // Not before the guard:
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 2, quorumUntil: 0, quorumSentAt: 0 }]);
    expect(d.logs()).toContain('took a lease that expired during a KV outage: first frame after the handover guard');
    expect(mayPublish(d.state, 1570)).toBe(false);
    d.send({ type: 'timer', timer: 'guard' }, 1570 + T.handoverGuardMs);
    const validUntil = d.state.validUntil;
    expect(d.of('deadline')).toEqual([
      { type: 'deadline', validUntil, term: 2, quorumUntil: validUntil, quorumSentAt: validUntil - (TTL - MARGIN) },
    ]);
  });

  it('take - a node that heard nothing from the KV for a TTL (paused) counts that as trouble', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    d.answer(ok({ lease: { value: record('b', 1), revision: 1, created: 900 } }));
    d.send({ type: 'timer', timer: 'tick' }, 1125 + 3000); // woke up 3 s late
    expect(d.state.reach.troubleAt).toBe(4125);
    d.answer(ok({ lease: null }));
    expect(d.of('kv')).toEqual([]);
  });
});
