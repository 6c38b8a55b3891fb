/**
 * The direct fallback's rules (docs/spec.md §7 Election, terms and fencing, "Direct fallback"),
 * driven directly on a fake clock and the in-memory bus: which failed writes allow it (the beat
 * stream has no leader; never a timeout or a refusal), only while a quorum write holds the lease
 * and answers "no leader" keep coming, one event at entering and at leaving, each frame counted,
 * back to fenced writes when the stream has a leader again; and the shared fence's quorum hold.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { MemoryBus, subjects, type BusMsg } from '@backbeat/transport';
import {
  DirectFallback,
  DirectSink,
  SharedFence,
  streamUnavailable,
  type FallbackEvent,
  type ProbeAnswer,
} from '@backbeat/pulse/internal';

const named = (name: string, message: string, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(message), { name }, extra);
const noResponders = named('JetStreamNotEnabled', 'jetstream is not enabled', {
  cause: named('NoResponders', "no responders: 'backbeat.c.fenced.beat'"),
});
const refusal = named('JetStreamApiError', 'wrong last sequence: 41', { code: 10071, status: 400 });

function setup(answer: () => ProbeAnswer = () => 'no-leader') {
  const clock = new FakeClock(1000);
  const bus = new MemoryBus({ clock });
  const heard: BusMsg[] = [];
  bus.subscribe(subjects('c').beat, (m) => heard.push(m));
  const events: FallbackEvent[] = [];
  const probes: number[] = [];
  const fb = new DirectFallback(
    new DirectSink(bus, 'c'),
    clock,
    (now) => (now < 2000 ? 3 : 0), // term 3's lease is held by a quorum write until 2000
    async () => {
      probes.push(clock.now());
      return answer();
    },
    (e) => events.push(e),
  );
  /** Moves the clock by `ms` in steps of 50, letting each probe's answer arrive. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      clock.advance(50);
      await new Promise((r) => setImmediate(r));
    }
  };
  return { clock, heard, events, probes, fb, run };
}

const frame = new TextEncoder().encode('{"beat_index":1}');
const timeout = named('TimeoutError', 'timeout');

describe('direct fallback - rules', () => {
  it(
    'unavailable - no responders and a 503 allow the fallback; a ' +
      'timeout, a refusal or a permission error never do',
    () => {
      expect(streamUnavailable(noResponders)).toBe(true);
      expect(
        streamUnavailable(named('JetStreamApiError', 'JetStream system temporarily unavailable', { status: 503 })),
      ).toBe(true);
      // A timeout is no evidence: the stream's leader may sit behind a route the network holds.
      expect(streamUnavailable(timeout)).toBe(false);
      expect(streamUnavailable(named('RequestError', 'request failed', { cause: timeout }))).toBe(false);
      expect(streamUnavailable(refusal)).toBe(false);
      expect(streamUnavailable(named('PermissionViolationError', 'Permissions Violation for Publish'))).toBe(false);
      expect(streamUnavailable(undefined)).toBe(false);
      expect(streamUnavailable('no responders')).toBe(false);
    },
  );

  it(
    'enter - only for the term a quorum write holds, on a fresh answer; one ' +
      'event; frames go to the beat subject with the term',
    async () => {
      const { clock, heard, events, fb } = setup();
      expect(fb.failed(3, refusal, clock.now())).toBe(false);
      expect(fb.failed(3, timeout, clock.now())).toBe(false);
      expect(fb.failed(2, noResponders, clock.now())).toBe(false); // another term than the quorum's
      expect(fb.failed(3, noResponders, clock.now() - 300)).toBe(false); // an answer to a write sent 300 ms ago
      expect(fb.failed(3, noResponders, clock.now())).toBe(true);
      expect(fb.failed(3, timeout, clock.now())).toBe(true); // already in: a timeout changes nothing
      expect(events).toEqual([{ type: 'entered', term: 3, reason: 'jetstream is not enabled' }]);
      expect(fb.active(3, clock.now())).toBe(true);
      fb.send(3, frame, undefined);
      await new Promise((r) => setImmediate(r));
      expect(heard.map((m) => m.headers['Backbeat-Term'])).toEqual(['3']);
      expect(events.filter((e) => e.type === 'frame')).toHaveLength(1);
      fb.leave('test over');
    },
  );

  it(
    'probe - every 100 ms; "no leader" again keeps it up to the ' + 'quorum hold, then it ends and cannot begin again',
    async () => {
      const { clock, events, probes, fb, run } = setup();
      fb.failed(3, noResponders, clock.now());
      fb.send(3, frame, undefined);
      await run(850);
      expect(probes).toEqual([1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800]);
      expect(fb.active(3, clock.now())).toBe(true); // 1850: 50 ms after the last answer
      await run(200); // 2050: past the quorum hold (the lease rides the KV-outage grace now)
      expect(fb.active(3, clock.now())).toBe(false);
      expect(events.at(-1)).toEqual({
        type: 'left',
        term: 3,
        frames: 1,
        ms: 1000, // the probe due at 2000 found it over
        why: 'the lease is no longer held by a quorum write',
      });
      expect(fb.failed(3, noResponders, clock.now())).toBe(false);
      const n = probes.length;
      await run(300);
      expect(probes).toHaveLength(n); // no probe after the fallback ended
    },
  );

  it(
    'probe - a leader again sends the writer back to fenced writes; ' + 'a failure sent before that does not re-enter',
    async () => {
      let answer: ProbeAnswer = 'no-leader';
      const { clock, events, fb, run } = setup(() => answer);
      const sentAt = clock.now();
      fb.failed(3, noResponders, sentAt);
      await run(200);
      answer = 'leader';
      await run(100);
      expect(events.at(-1)).toMatchObject({ type: 'left', term: 3, why: 'the beat stream answers again' });
      expect(fb.active(3, clock.now())).toBe(false);
      expect(fb.failed(3, noResponders, sentAt)).toBe(false); // a write sent before the return
      expect(fb.failed(3, noResponders, clock.now())).toBe(true); // a new one that fails again
      fb.leave('test over');
    },
  );

  it('probe - silence (a probe that times out) ends the fallback 300 ms after the last "no leader"', async () => {
    const { clock, events, fb, run } = setup(() => 'unknown');
    fb.failed(3, noResponders, clock.now());
    await run(250);
    expect(fb.active(3, clock.now())).toBe(true);
    await run(50);
    expect(fb.active(3, clock.now())).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'left', why: 'no fresh answer that the beat stream has no leader' });
  });

  it(
    'renewal - "no leader" allows the fallback only once a quorum write sent after the first such answer ' +
      'holds the lease; a stored write starts the wait again',
    () => {
      const clock = new FakeClock(1000);
      const events: FallbackEvent[] = [];
      let quorumSentAt = 900; // the last renewal the KV's quorum acknowledged
      const fb = new DirectFallback(
        new DirectSink(new MemoryBus({ clock }), 'c'),
        clock,
        (now, sentAfter = -Infinity) => (now < 3000 && quorumSentAt > sentAfter ? 3 : 0),
        async () => 'no-leader',
        (e) => events.push(e),
      );
      // The stream lost its leader at 1000: the renewal of 900 tells nothing of the network after it.
      expect(fb.failed(3, noResponders, clock.now())).toBe(false);
      clock.advance(100);
      expect(fb.failed(3, noResponders, clock.now())).toBe(false);
      quorumSentAt = 1050; // sent after the first answer (1000), acknowledged: this side has the quorum
      clock.advance(100);
      expect(fb.failed(3, noResponders, clock.now())).toBe(true);
      expect(events).toMatchObject([{ type: 'entered', term: 3 }]);
      fb.leave('the beat stream answers again');
      fb.stored();
      clock.advance(200); // 1400: the stream loses its leader again; 1050 is older than that
      expect(fb.failed(3, noResponders, clock.now())).toBe(false);
      quorumSentAt = 1450;
      clock.advance(100);
      expect(fb.failed(3, noResponders, clock.now())).toBe(true);
    },
  );

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
    // The quorum write's send time: a write sent after `sentAfter` only.
    f.open(3000, 7, 2500, 1200);
    expect([other.quorumTerm(2000, 1100), other.quorumTerm(2000, 1200), other.quorumTerm(2000)]).toEqual([7, 0, 7]);
    // The beat stream's stored frames (written by the emitter thread, read by the lease): the latest of the term.
    expect(f.beatStoredAt(7)).toBeUndefined();
    other.beatStored(7, 1500);
    other.beatStored(7, 1400); // an older answer arriving late moves nothing
    other.beatStored(6, 1900); // nor a frame of an older term
    expect([f.beatStoredAt(7), f.beatStoredAt(6), f.beatStoredAt(8)]).toEqual([1500, undefined, undefined]);
  });
});
