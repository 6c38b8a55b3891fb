import { describe, expect, it } from 'vitest';
import { FakeClock } from '@backbeat/core';
import { MemoryBus, subjects, type BusMsg } from '@backbeat/transport';
import { Reverb } from '@backbeat/reverb';

const enc = new TextEncoder();
const claim = (agent: string, beat: number, hlc: string) => enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: beat, state: 'executing', hlc }));

describe('reverb - what counts as a replay (FakeClock, in-memory bus)', () => {
  it('ingest - the same stored message again is a duplicate (never dead-lettered); another message repeating a counted claim is a replay', async () => {
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
      expect(r.ingest(claim('agent:a', 1, '18bcfe56800:0002:abcd'), {}, clock.wallNow(), 'live', 10)).toBe('accepted');
      await bus.flush();
      await new Promise((res) => setImmediate(res));
      expect(dlq.map((m) => m.headers['x-reason'])).toEqual(['replayed']);
      const w = r.windows()[0]!;
      expect([w.claims, w.rejected, w.agents]).toEqual([2, 1, 1]);
    } finally {
      await r.stop();
      await bus.close();
    }
  });
});
