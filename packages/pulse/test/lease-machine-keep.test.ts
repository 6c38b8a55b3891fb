/**
 * The lease machine keeping, losing and releasing the lease, one example per transition
 * (docs/spec.md §7 Election, terms and fencing): `step` driven directly. No KV, no timers.
 */
import { describe, expect, it } from 'vitest';
import { quorumHeldUntil } from '@backbeat/pulse/internal';
import { TTL, MARGIN, T, ok, fail, record, Drive, leader } from './lease-drive.js';

describe('lease machine - keep', () => {
  it('renew - every TTL/4 an update with the expected revision; its answer moves the fence', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    expect(d.op).toMatchObject({ key: 'lease', op: 'update', expectedRevision: 1 });
    d.answer(ok({ revision: 2 }), 1260);
    const until = 1250 + TTL - MARGIN;
    expect(d.of('deadline')).toEqual([
      { type: 'deadline', validUntil: until, term: 1, quorumUntil: until, quorumSentAt: until - (TTL - MARGIN) },
    ]);
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
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1, quorumUntil: 0, quorumSentAt: 0 }]);
  });

  it('fence - a leader whose renewals time out stops at its fence: the fence timer steps it down', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('failed'), 1500);
    expect(d.state.validUntil).toBe(1000 + TTL - MARGIN); // a timeout is no evidence
    d.send({ type: 'timer', timer: 'fence' }, 1000 + TTL - MARGIN);
    expect(d.state).toMatchObject({ isLeader: false, reason: 'lease not renewed in time' });
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1, quorumUntil: 0, quorumSentAt: 0 }]);
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

  it(
    "outage - renewals that time out while the beat stream stores this term's frames: the leader publishes " +
      'past its lease on that evidence; once the stream stops storing them, its fence steps it down',
    () => {
      const d = leader();
      const lease = 1000 + TTL - MARGIN;
      d.send({ type: 'timer', timer: 'tick' }, 1250);
      d.beatStoredAt = 1450;
      d.answer(fail('failed'), 1500); // a timeout: the lease stream may be electing behind a held route
      expect(d.state.validUntil).toBe(Math.max(lease, 1450 + T.evidenceMs));
      expect(d.logs()).toContain(
        "the lease KV does not answer; the beat stream still stores this term's frames: " +
          'publishing on the KV-outage grace',
      );
      expect(d.fx).toContainEqual({ type: 'arm', timer: 'tick', at: 1500 + 150 });
      d.send({ type: 'timer', timer: 'tick' }, 1650);
      d.beatStoredAt = 1880; // a frame of this term stored: its write reached the stream's quorum
      d.answer(fail('failed'), 1900);
      expect(d.state.validUntil).toBe(1880 + T.evidenceMs);
      expect(d.state.validUntil).toBeGreaterThan(lease);
      d.send({ type: 'timer', timer: 'tick' }, 2050);
      d.answer(fail('failed'), 2300); // nothing stored since 1880: no new evidence
      expect(d.state.validUntil).toBe(1880 + T.evidenceMs);
      d.send({ type: 'timer', timer: 'fence' }, 1880 + T.evidenceMs);
      expect(d.state).toMatchObject({ isLeader: false, reason: 'lease not renewed in time' });
    },
  );

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
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1, quorumUntil: 0, quorumSentAt: 0 }]);
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

describe('lease machine - the quorum hold (the direct fallback of the beat)', () => {
  it(
    'quorum - on the KV-outage grace the fence moves past the lease, the quorum ' +
      'hold stays at the last acknowledged write + TTL - margin',
    () => {
      const d = leader();
      d.send({ type: 'timer', timer: 'tick' }, 1250);
      d.answer(ok({ revision: 2 }), 1260);
      const held = 1250 + TTL - MARGIN;
      expect(quorumHeldUntil(d.state)).toBe(held);
      d.send({ type: 'timer', timer: 'tick' }, 1500);
      d.answer(fail('no-responders'), 1502);
      expect(d.of('deadline')).toEqual([
        { type: 'deadline', validUntil: 1500 + T.evidenceMs, term: 1, quorumUntil: held, quorumSentAt: 1250 },
      ]);
      d.send({ type: 'timer', timer: 'tick' }, 1652);
      d.answer(fail('no-responders'), 1654);
      expect(d.state.validUntil).toBe(1652 + T.evidenceMs);
      expect(d.of('deadline')).toEqual([
        { type: 'deadline', validUntil: 1652 + T.evidenceMs, term: 1, quorumUntil: held, quorumSentAt: 1250 },
      ]);
      // Past the quorum hold the leader still publishes (the grace) but may not fall back.
      expect(quorumHeldUntil(d.state)).toBe(held);
      expect(d.state.validUntil).toBeGreaterThan(held);
    },
  );

  it('quorum - when the KV answers again the quorum hold catches up with the fence', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('no-responders'), 1252);
    expect(d.of('deadline')[0]).toMatchObject({ quorumUntil: 1000 + TTL - MARGIN });
    d.send({ type: 'timer', timer: 'tick' }, 1402);
    d.answer(ok({ revision: 2 }), 1410);
    const until = 1402 + TTL - MARGIN;
    expect(d.of('deadline')).toEqual([
      { type: 'deadline', validUntil: until, term: 1, quorumUntil: until, quorumSentAt: until - (TTL - MARGIN) },
    ]);
    expect(d.logs()).toContain('the lease KV answers again; still leading');
  });

  it('quorum - a timed-out renewal moves nothing; 0 for a follower and after a step-down', () => {
    const d = leader();
    d.send({ type: 'timer', timer: 'tick' }, 1250);
    d.answer(fail('failed'), 1500);
    expect(quorumHeldUntil(d.state)).toBe(1000 + TTL - MARGIN);
    d.send({ type: 'timer', timer: 'fence' }, 1000 + TTL - MARGIN);
    expect(quorumHeldUntil(d.state)).toBe(0);
    expect(d.of('deadline')).toEqual([{ type: 'deadline', validUntil: 0, term: 1, quorumUntil: 0, quorumSentAt: 0 }]);
    const f = new Drive();
    f.send({ type: 'start' });
    f.answer(ok({ lease: { value: record('b', 1), revision: 1, created: 900 } }));
    expect(quorumHeldUntil(f.state)).toBe(0);
  });
});
