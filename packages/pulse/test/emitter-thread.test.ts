import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { collectFrames, gridProblems, slotNo } from './helpers.js';

const nats = useNatsFixture();

/** Blocks this thread's event loop for `ms` (what a GC pause or a heavy request does). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('pulse - the emitter thread', () => {
  it(
    'emitter thread - frames leave on their slots while the main ' + 'thread is blocked; stop() ends the thread',
    async () => {
      const bus = await NatsBus.connect({ servers: nats.url });
      const observer = await NatsBus.connect({ servers: nats.url });
      nats.track(bus);
      nats.track(observer);
      const seen = collectFrames(observer, 'thread');
      const p = new Pulse({
        bus,
        clusterId: 'thread',
        nodeId: 'w',
        bpm: 120,
        maxBpm: 120,
        leaseTtlMs: 2000,
        emitterNats: { servers: nats.url },
      });
      nats.track(p);
      await p.start();
      await waitFor(() => seen.frames.length >= 3, { timeoutMs: 5000, message: 'frames from the emitter thread' });
      const last = seen.frames.at(-1)!.frame;
      block(500); // three slots come due meanwhile; an in-thread emitter would skip them as stale
      await waitFor(() => seen.frames.length >= 12, { timeoutMs: 5000 });
      const after = seen.frames.filter((f) => slotNo(f.frame) > slotNo(last));
      // Each frame's HLC is the emitter's wall clock at publish: on its slot, none skipped.
      for (let i = 1; i < after.length; i++) expect(slotNo(after[i]!.frame)).toBe(slotNo(after[i - 1]!.frame) + 1);
      expect(slotNo(after[0]!.frame)).toBe(slotNo(last) + 1);
      for (const f of after) {
        const lateness = parseInt(f.frame.hlc.split(':')[0]!, 16) - Date.parse(f.frame.scheduled_at!);
        expect(lateness).toBeGreaterThanOrEqual(0);
        expect(lateness).toBeLessThan(83); // within the stale bound: sent, not skipped
      }
      expect(gridProblems(seen.frames)).toEqual([]);
      await waitFor(() => p.publishedCount >= seen.frames.length, {
        message: 'the main thread to count what the emitter sent',
      });
      await p.stop();
      const n = seen.frames.length;
      await observer.flush();
      expect(seen.frames.length).toBe(n);
      seen.stop();
    },
  );
});
