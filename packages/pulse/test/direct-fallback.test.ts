/**
 * The direct fallback's rules (docs/spec.md §7 Election, terms and fencing, "Direct fallback"),
 * driven directly on a fake clock and the in-memory bus: which failed writes allow it (the beat
 * stream does not answer; never a refusal), only while a quorum write holds the lease, one event
 * at entering and at leaving, each frame counted, back to fenced writes when the stream answers;
 * and the shared fence's quorum hold.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { MemoryBus, subjects, type BusMsg } from '@backbeat/transport';
import { DirectFallback, DirectSink, SharedFence, streamUnavailable, type FallbackEvent } from '@backbeat/pulse/internal';

const named = (name: string, message: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(message), { name }, extra);
const noResponders = named('JetStreamNotEnabled', 'jetstream is not enabled', {
  cause: named('NoResponders', "no responders: 'backbeat.c.fenced.beat'"),
});
const refusal = named('JetStreamApiError', 'wrong last sequence: 41', { code: 10071, status: 400 });

function setup(probeAnswers: () => Promise<boolean> = async () => false) {
  const clock = new FakeClock(1000);
  const bus = new MemoryBus({ clock });
  const heard: BusMsg[] = [];
  bus.subscribe(subjects('c').beat, (m) => heard.push(m));
  let quorum = { term: 3, until: 2000 };
  const events: FallbackEvent[] = [];
  const probes: number[] = [];
  const fb = new DirectFallback(
    new DirectSink(bus, 'c'),
    clock,
    (now) => (now < quorum.until ? quorum.term : 0),
    (term) => {
      probes.push(term);
      return probeAnswers();
    },
    (e) => events.push(e),
  );
  return { clock, heard, events, probes, fb, setQuorum: (q: typeof quorum) => (quorum = q) };
}

const frame = new TextEncoder().encode('{"beat_index":1}');

describe('direct fallback - rules', () => {
  it('unavailable - no responders and a 503 allow the fallback; a timeout, a refusal or a permission error never do', () => {
    expect(streamUnavailable(noResponders)).toBe(true);
    // A timeout is no evidence: the stream's leader may sit behind a route the network holds.
    expect(streamUnavailable(named('TimeoutError', 'timeout'))).toBe(false);
    expect(streamUnavailable(named('RequestError', 'request failed', { cause: named('TimeoutError', 'timeout') })))
      .toBe(false);
    expect(streamUnavailable(named('JetStreamApiError', 'JetStream system temporarily unavailable', { status: 503 })))
      .toBe(true);
    expect(streamUnavailable(refusal)).toBe(false);
    expect(streamUnavailable(named('PermissionViolationError', 'Permissions Violation for Publish'))).toBe(false);
    expect(streamUnavailable(undefined)).toBe(false);
    expect(streamUnavailable('timeout')).toBe(false);
  });

  it('enter - only for the term a quorum write holds; one event; the frames go to the beat subject with the term', async () => {
    const { clock, heard, events, fb } = setup();
    expect(fb.failed(3, refusal, clock.now())).toBe(false);
    expect(fb.failed(2, noResponders, clock.now())).toBe(false); // another term than the quorum's
    expect(fb.failed(3, noResponders, clock.now())).toBe(true);
    expect(fb.failed(3, named('JetStreamApiError', 'no leader', { status: 503 }), clock.now())).toBe(true); // in
    expect(events).toEqual([{ type: 'entered', term: 3, reason: 'jetstream is not enabled' }]);
    expect(fb.active(3, clock.now())).toBe(true);
    fb.send(3, frame, undefined);
    await new Promise((r) => setImmediate(r));
    expect(heard.map((m) => m.headers['Backbeat-Term'])).toEqual(['3']);
    expect(events.filter((e) => e.type === 'frame')).toHaveLength(1);
  });

  it('grace - past the quorum hold (the lease rides the KV-outage grace) the fallback ends and cannot begin again', () => {
    const { clock, events, fb } = setup();
    expect(fb.failed(3, noResponders, clock.now())).toBe(true);
    fb.send(3, frame, undefined);
    clock.advance(1000); // now 2000: the quorum hold ended
    expect(fb.active(3, clock.now())).toBe(false);
    expect(events.at(-1)).toEqual({
      type: 'left',
      term: 3,
      frames: 1,
      ms: 1000,
      why: 'the lease is no longer held by a quorum write',
    });
    expect(fb.failed(3, noResponders, clock.now())).toBe(false);
    expect(fb.active(3, clock.now())).toBe(false);
  });

  it('probe - asks at most every 200 ms while sending; leaves when the stream answers; older failures do not re-enter', async () => {
    let answers = false;
    const { clock, events, probes, fb } = setup(async () => answers);
    const sentAt = clock.now();
    fb.failed(3, noResponders, sentAt);
    fb.send(3, frame, undefined);
    clock.advance(50);
    fb.send(3, frame, undefined);
    expect(probes).toEqual([3]);
    await Promise.resolve();
    answers = true;
    clock.advance(200);
    fb.send(3, frame, undefined);
    expect(probes).toEqual([3, 3]);
    await new Promise((r) => setImmediate(r));
    expect(events.at(-1)).toMatchObject({ type: 'left', term: 3, frames: 3, why: 'the beat stream answers again' });
    expect(fb.failed(3, noResponders, sentAt)).toBe(false); // a write sent before the return
    expect(fb.failed(3, noResponders, clock.now())).toBe(true); // a new one that fails again
  });

  it('fence - the quorum hold is at most the deadline, closed with it; no quorum term past it', () => {
    const f = new SharedFence();
    f.open(2000, 4, 1500);
    expect([f.term(1400), f.quorumTerm(1400)]).toEqual([4, 4]);
    expect([f.term(1600), f.quorumTerm(1600)]).toEqual([4, 0]);
    f.open(2000, 4, 5000);
    expect(f.quorumTerm(2100)).toBe(0);
    f.open(Infinity, 5);
    expect(f.quorumTerm(5e12)).toBe(5); // year 2128: no expiry
    f.close();
    expect([f.term(1000), f.quorumTerm(1000)]).toEqual([0, 0]);
    const other = new SharedFence(f.buffer); // the emitter thread's view
    f.open(3000, 6, 2500);
    expect([other.term(2600), other.quorumTerm(2400), other.quorumTerm(2600)]).toEqual([6, 6, 0]);
  });
});
