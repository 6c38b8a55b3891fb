/**
 * The lease machine's transitions, one example each (docs/spec.md §7 Election, terms and
 * fencing): `step` is driven directly with events and a time, and what it returns (state and
 * effects) is checked. No KV, no timers: milliseconds.
 */
import { describe, expect, it } from 'vitest';
import {
  initialLeaseState,
  mayPublish,
  outageTimings,
  step,
  type KvAnswer,
  type KvOp,
  type LeaseConfig,
  type LeaseEffect,
  type LeaseEvent,
  type LeaseState,
  type PulseLeaseRecord,
} from '@backbeat/pulse/internal';

const TTL = 1000;
const MARGIN = 125;
const T = outageTimings(TTL);
const cfg: LeaseConfig = {
  nodeId: 'a',
  ttlMs: TTL,
  fenceMarginMs: MARGIN,
  kvOutageGraceMs: 3000,
  clockOffsetBoundMs: 20,
  timings: T,
};

const ok = (extra: Omit<Extract<KvAnswer, { ok: true }>, 'ok'> = {}): KvAnswer => ({ ok: true, ...extra });
const fail = (kind: 'conflict' | 'no-responders' | 'failed'): KvAnswer => ({
  ok: false,
  failure: { kind, message: kind },
});
const record = (node: string, term: number, extra: Partial<PulseLeaseRecord> = {}): PulseLeaseRecord => ({
  node_id: node,
  term,
  acquired_at: '1970-01-01T00:00:00.000Z',
  previous_node: null,
  reason: 'first leader',
  ...extra,
});

/** One machine, stepped by hand; `fx` holds the effects of the last step. */
class Drive {
  state: LeaseState;
  at = 1000;
  refusal: string | null = null;
  fx: readonly LeaseEffect[] = [];

  constructor(c: LeaseConfig = cfg) {
    this.state = initialLeaseState(c);
  }

  send(event: LeaseEvent, at = this.at): readonly LeaseEffect[] {
    this.at = at;
    const r = step(this.state, event, { at, wall: at, lastSlot: undefined, refusal: this.refusal });
    this.state = r.state;
    this.fx = r.effects;
    return r.effects;
  }

  /** The KV operation the last step issued. */
  get op(): KvOp {
    const e = this.fx.find((x) => x.type === 'kv');
    if (e?.type !== 'kv') throw new Error(`no KV operation in ${JSON.stringify(this.fx)}`);
    return e.op;
  }

  /** Answers the operation in flight at `at`. */
  answer(a: KvAnswer, at = this.at): readonly LeaseEffect[] {
    return this.send({ type: 'kv', req: this.state.op!.req, answer: a }, at);
  }

  of<K extends LeaseEffect['type']>(type: K): Array<Extract<LeaseEffect, { type: K }>> {
    return this.fx.filter((e): e is Extract<LeaseEffect, { type: K }> => e.type === type);
  }

  logs(): string[] {
    return this.of('log').map((e) => e.msg);
  }
}

/** A fresh node that took the lease (term 1, revision 1) at t = 1000. */
function leader(c: LeaseConfig = cfg): Drive {
  const d = new Drive(c);
  d.send({ type: 'start' });
  d.answer(ok({ lease: null }));
  d.answer(ok({ counter: null }));
  d.answer(ok({ revision: 1 }));
  d.answer(ok({ revision: 1 }));
  return d;
}

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
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 1000 + TTL - MARGIN, term: 1 }]);
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
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 2 }]); // not before the guard
    expect(d.logs()).toContain('took a lease that expired during a KV outage: first frame after the handover guard');
    expect(mayPublish(d.state, 1570)).toBe(false);
    d.send({ type: 'timer', timer: 'guard' }, 1570 + T.handoverGuardMs);
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: d.state.validUntil, term: 2 }]);
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

describe('lease machine - keep', () => {
  it('renew - every TTL/4 an update with the expected revision; its answer moves the fence', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    expect(d.op).toMatchObject({ key: 'lease', op: 'update', expectedRevision: 1 });
    d.answer(ok({ revision: 2 }), 1260);
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 1250 + TTL - MARGIN, term: 1 }]);
    expect(d.fx).toContainEqual({ type: 'arm', timer: 'fence', at: 1250 + TTL - MARGIN });
  });

  it('renew - a conflict whose read shows our own newer revision adopts it (a lost answer)', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('failed'), 1500); // a timeout: it may have been applied
    d.send({ type: 'timer', timer: 'tick' }, 1750);
    d.answer(fail('conflict'));
    d.answer(ok({ lease: { value: record('a', 1), revision: 2, created: 1260 } }));
    expect(d.state).toMatchObject({ isLeader: true, revision: 2, validUntil: 1250 + TTL - MARGIN });
    expect(d.logs()).toContain('a renewal answer was lost; the lease is still ours: adopted its revision');
  });

  it('renew - a conflict whose read shows another holder steps down at once and follows it', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('conflict'));
    d.answer(ok({ lease: { value: record('b', 2), revision: 5, created: 1240 } }));
    expect(d.state).toMatchObject({ isLeader: false, leaderId: 'b', term: 2, previous: 'a' });
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1 }]);
  });

  it('fence - a leader whose renewals time out stops at its fence: the fence timer steps it down', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('failed'), 1500);
    expect(d.state.validUntil).toBe(1000 + TTL - MARGIN); // a timeout is no evidence
    d.send({ type: 'timer', timer: 'fence' }, 1000 + TTL - MARGIN);
    expect(d.state).toMatchObject({ isLeader: false, reason: 'lease not renewed in time' });
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1 }]);
  });

  it('outage - "no responders" lets the leader publish past its lease on fresh evidence, retrying every 150 ms', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('no-responders'), 1252);
    expect(d.state.validUntil).toBe(Math.max(1000 + TTL - MARGIN, 1250 + T.evidenceMs));
    expect(d.logs()).toContain(
      'the lease KV has no stream leader: nobody can take the lease; publishing on the KV-outage grace',
    );
    expect(d.fx).toContainEqual({ type: 'arm', timer: 'tick', at: 1252 + 150 });
  });

  it('outage - an expired lease is re-created under the same term; the counter must then still hold the term', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('no-responders'), 1252);
    d.send({ type: 'timer', timer: 'tick' }, 1402);
    d.answer(fail('conflict'));
    d.answer(ok({ lease: null }));
    expect(d.op).toMatchObject({ key: 'lease', op: 'create', value: { node_id: 'a', term: 1 } });
    d.answer(ok({ revision: 4 }));
    expect(d.logs()).toContain('the lease expired during a KV outage; re-created it under the same term');
    expect(d.op).toEqual({ key: 'term', op: 'get' });
    d.answer(ok({ counter: { value: { term: 1, node_id: 'a', acquired_at: '' }, revision: 1 } }));
    expect(d.op).toMatchObject({ key: 'term', op: 'update', expectedRevision: 1 });
    d.answer(ok({ revision: 2 }));
    expect(d.state).toMatchObject({ isLeader: true, termUnverified: false, revision: 4 });
  });

  it('outage - a counter that moved on during the outage: step down and end the re-created lease', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('no-responders'), 1252);
    d.send({ type: 'timer', timer: 'tick' }, 1402);
    d.answer(fail('conflict'));
    d.answer(ok({ lease: null }));
    d.answer(ok({ revision: 4 }));
    d.answer(ok({ counter: { value: { term: 2, node_id: 'x', acquired_at: '' }, revision: 3 } }));
    expect(d.state).toMatchObject({
      isLeader: false,
      reason: 'lease expired during a KV outage and another term began',
    });
    expect(d.op).toEqual({ key: 'lease', op: 'delete', expectedRevision: 4 });
  });
});

describe('lease machine - lose and release', () => {
  it('refusal - a leader its clock check refuses steps down and releases; the counter records why', () => {
    const d = leader();
    d.refusal = 'clock offset beyond 20 ms';
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    expect(d.state).toMatchObject({ isLeader: false, reason: 'clock offset beyond 20 ms' });
    d.answer(ok({ counter: { value: { term: 1, node_id: 'a', acquired_at: '' }, revision: 1 } }));
    expect(d.op).toMatchObject({ key: 'term', op: 'update', value: { term: 1, ended: 'clock offset beyond 20 ms' } });
    d.answer(ok({ revision: 2 }));
    expect(d.op).toEqual({ key: 'lease', op: 'delete', expectedRevision: 1 });
    d.answer(ok());
    expect(d.logs()).toContain('released the leader lease');
    expect(d.state).toMatchObject({ leaderId: null, previous: 'a' });
  });

  it('self-fence - stops publishing at once; the next campaign ends its own lease and takes a new term', () => {
    const d = leader();
    d.send({ type: 'fence', reason: 'connection stalled' });
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1 }]);
    expect(d.state.selfFenced).toBe(true);
    d.send({ type: 'timer', timer: 'tick' }, 1125);
    d.answer(ok({ lease: { value: record('a', 1), revision: 1, created: 1000 } }));
    expect(d.op).toEqual({ key: 'lease', op: 'delete', expectedRevision: 1 });
    d.answer(ok());
    expect(d.op).toEqual({ key: 'term', op: 'get' });
  });

  it('watch - a follower campaigns at once when the lease ends; a leader ignores it', () => {
    const d = new Drive();
    d.send({ type: 'start' });
    d.answer(ok({ lease: { value: record('b', 1), revision: 1, created: 900 } }));
    d.send({ type: 'lease-ended' }, 1100);
    expect(d.fx).toEqual([{ type: 'arm', timer: 'tick', at: 1100 }]);
    d.send({ type: 'timer', timer: 'tick' });
    expect(d.op).toEqual({ key: 'term', op: 'get' }); // straight to the take: a replica may not have applied the delete
    const l = leader();
    expect(l.send({ type: 'lease-ended' })).toEqual([]);
  });

  it('stop - waits for the operation in flight, then steps down, releases and reports stopped', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.send({ type: 'stop' });
    expect(d.of('disarm').map((e) => e.timer)).toEqual(['tick', 'fence', 'guard', 'takeover']);
    expect(d.state.isLeader).toBe(true);
    d.answer(ok({ revision: 2 }));
    expect(d.state).toMatchObject({ isLeader: false, reason: 'stopped' });
    expect(d.op).toEqual({ key: 'term', op: 'get' });
    d.answer(ok({ counter: { value: { term: 1, node_id: 'a', acquired_at: '' }, revision: 1 } }));
    d.answer(ok({ revision: 2 }));
    d.answer(ok());
    expect(d.fx).toContainEqual({ type: 'stopped' });
    expect(d.state.running).toBe(false);
  });

  it('answers - an answer to anything but the operation in flight changes nothing', () => {
    const d = leader();
    const before = d.state;
    expect(d.send({ type: 'kv', req: 999, answer: ok({ revision: 50 }) })).toEqual([]);
    expect(d.state).toEqual(before);
  });
});
