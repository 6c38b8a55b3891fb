import { describe, expect, it } from 'vitest';
import { FakeClock, createTempoMap, tempoMapToJson } from '@backbeat/core';
import { MemoryBus, STATE_KEYS, openStateBucket, subjects, type BusMsg } from '@backbeat/transport';
import { Reverb } from '@backbeat/reverb';

const enc = new TextEncoder();
const claim = (agent: string, beat: number, hlc: string) =>
  enc.encode(
    JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: beat, state: 'executing', hlc }),
  );

describe('reverb - what counts as a replay (FakeClock, in-memory bus)', () => {
  it(
    'ingest - the same stored message again is a duplicate (never dead-lettered); ' +
      'another message repeating a counted claim is a replay',
    async () => {
      const clock = new FakeClock();
      const bus = new MemoryBus();
      const dlq: BusMsg[] = [];
      bus.subscribe(subjects('rules').dlq, (m) => dlq.push(m));
      const r = new Reverb({ bus, clusterId: 'rules', nodeId: 'rules', barLength: 4, signatures: 'off', clock });
      await r.start();
      try {
        const c = claim('agent:a', 0, '18bcfe56800:0001:abcd');
        expect(r.ingest(c, {}, clock.wallNow(), 'live', 7)).toBe('accepted');
        expect(r.ingest(c, {}, clock.wallNow(), 'redelivered', 7)).toBe('duplicate'); // redelivery of seq 7
        expect(r.ingest(c, {}, clock.wallNow(), 'history', 7)).toBe('duplicate'); // re-read at start
        expect(r.ingest(c, {}, clock.wallNow(), 'live', 9)).toBe('replayed'); // a new message, same agent and HLC
        expect(r.ingest(claim('agent:a', 1, '18bcfe56800:0002:abcd'), {}, clock.wallNow(), 'live', 10)).toBe(
          'accepted',
        );
        await bus.flush();
        await new Promise((res) => setImmediate(res));
        expect(dlq.map((m) => m.headers['x-reason'])).toEqual(['replayed']);
        const w = r.windows()[0]!;
        expect([w.claims, w.rejected, w.agents]).toEqual([2, 1, 1]);
      } finally {
        await r.stop();
        await bus.close();
      }
    },
  );

  it(
    'ingest - a claim queued through an outage and stored up to maxClaimDelayMs after its ' +
      'beat is late, not a replay; older, or far ahead, it is a replay',
    async () => {
      const clock = new FakeClock();
      const bus = new MemoryBus({ clock });
      // 60 BPM, bars of 4, the grid began 200 s ago: claims are stored at beat 200.
      const state = await openStateBucket(bus, 'late');
      await state.put(
        STATE_KEYS.tempoMap,
        new TextEncoder().encode(
          tempoMapToJson(createTempoMap({ startTime: clock.now() - 200_000, tempoBpm: 60, barLength: 4 })),
        ),
      );
      const r = new Reverb({ bus, clusterId: 'late', nodeId: 'late', signatures: 'off', clock });
      await r.start();
      try {
        // 16 s late: its bar is reported
        expect(r.ingest(claim('agent:q', 184, '18bcfe56800:0001:abcd'), {}, clock.now(), 'live', 1)).toBe(
          'late_claims',
        );
        // its bar is in progress
        expect(r.ingest(claim('agent:q', 200, '18bcfe56800:0002:abcd'), {}, clock.now(), 'live', 2)).toBe('accepted');
        // 140 s late: beyond 120 s
        expect(r.ingest(claim('agent:q', 60, '18bcfe56800:0003:abcd'), {}, clock.now(), 'live', 3)).toBe('replayed');
        // 12 beats ahead: beyond 2 bars
        expect(r.ingest(claim('agent:q', 212, '18bcfe56800:0004:abcd'), {}, clock.now(), 'live', 4)).toBe('replayed');
        const tight = new Reverb({
          bus,
          clusterId: 'late',
          nodeId: 'tight',
          signatures: 'off',
          clock,
          maxClaimDelayMs: 5000,
        });
        await tight.start();
        expect(tight.ingest(claim('agent:q', 194, '18bcfe56800:0005:abcd'), {}, clock.now(), 'live', 5)).toBe(
          'late_claims',
        ); // 6 beats: within 2 bars
        // 16 beats: beyond 5 s and 2 bars
        expect(tight.ingest(claim('agent:q', 184, '18bcfe56800:0006:abcd'), {}, clock.now(), 'live', 6)).toBe(
          'replayed',
        );
        await tight.stop();
      } finally {
        await r.stop();
        await bus.close();
      }
    },
  );
});
