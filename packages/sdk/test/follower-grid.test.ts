import { describe, expect, it } from 'vitest';
import { createTempoMap, FakeClock, Hlc, slot } from '@backbeat/core';
import { BeatFollower, FrameGate, SdkMetrics, SETTLE_DELAY_MS, SlotTimer } from '@backbeat/sdk/internal';
import { CLUSTER, frame, setup, T0 } from './follower-setup.js';

describe('sdk follower - grid timing', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });

  it('follower grid - fires each slot at its instant; the leader frame confirms it, never a second time', () => {
    const { clock, gate, f, fired, metrics, deliver } = setup(50, 'grid');
    gate.setMap(map);
    for (let k = 0; k < 6; k++) {
      const s = slot(map, Math.floor(k / 3), k % 3);
      clock.advanceTo(s.phaseStart + 1);
      deliver(frame(map, s.beatIndex, s.phaseIndex));
    }
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual([
      '0.plan:grid',
      '0.execute:grid',
      '0.review:grid',
      '1.plan:grid',
      '1.execute:grid',
      '1.review:grid',
    ]);
    for (const x of fired) expect(x.at).toBe(x.scheduled); // exactly at the slot on a fake clock
    expect(metrics.snapshot.framesConfirmed).toBe(6);
    expect(metrics.snapshot.confirmLagLastMs).toBe(1);
    expect(f.degraded).toBe(false);
    // The leader goes silent: the grid goes on, only health changes.
    clock.advanceTo(slot(map, 3, 0).phaseStart + 1);
    expect(fired.slice(6).every((x) => x.source === 'grid')).toBe(true);
    expect(fired).toHaveLength(10);
    expect(f.degraded).toBe(true);
  });

  it(
    'follower grid - clients sharing a timer and a gate are all called before any of them does ' + 'its bookkeeping',
    () => {
      const clock = new FakeClock(T0 - 1);
      const gate = new FrameGate(CLUSTER, clock, { aheadMs: 50 });
      const timer = new SlotTimer(clock);
      const log: string[] = [];
      const followers = ['a', 'b', 'c'].map((id) => {
        const metrics = new (class extends SdkMetrics {
          override callback(ms: number): void {
            log.push(`settle:${id}`);
            super.callback(ms);
          }
        })();
        const f = new BeatFollower({
          clusterId: CLUSTER,
          clock,
          hlc: new Hlc(id, { clock }),
          toleranceMs: 50,
          timing: 'grid',
          maxClockOffsetMs: 20,
          metrics,
          timer,
          onError: () => {},
          onDegradation: () => {},
        });
        f.attach(gate);
        f.onPhase((fr, info) => log.push(`call:${id}:${fr.beat_index}.${fr.phase}:${info.source}`));
        f.start();
        return { f, metrics };
      });
      gate.setMap(map);
      clock.advanceTo(slot(map, 0, 1).phaseStart); // 0.plan and 0.execute, each a batch of three
      expect(log).toEqual([
        'call:a:0.plan:grid',
        'call:b:0.plan:grid',
        'call:c:0.plan:grid',
        'settle:a',
        'settle:b',
        'settle:c',
        'call:a:0.execute:grid',
        'call:b:0.execute:grid',
        'call:c:0.execute:grid',
      ]);
      // The bookkeeping waits SETTLE_DELAY_MS: other processes woken for the slot get the cores first.
      clock.advance(SETTLE_DELAY_MS);
      expect(log.slice(9)).toEqual(['settle:a', 'settle:b', 'settle:c']);
      for (const { metrics } of followers)
        expect(metrics.snapshot).toMatchObject({ callbacks: 2, framesSynthesized: 2 });
      // A leader frame for a slot not fired yet (10 ms early): the same order through the gate.
      log.length = 0;
      clock.advanceTo(slot(map, 0, 2).phaseStart - 10);
      gate.offer({ frame: frame(map, 0, 2), termHeader: '1', receivedAt: clock.now() });
      expect(log).toEqual([
        'call:a:0.review:leader',
        'call:b:0.review:leader',
        'call:c:0.review:leader',
        'settle:a',
        'settle:b',
        'settle:c',
      ]);
      // Each armed its next slot in its bookkeeping: the grid goes on.
      log.length = 0;
      clock.advanceTo(slot(map, 1, 0).phaseStart);
      expect(log.filter((l) => l.startsWith('call:'))).toEqual([
        'call:a:1.plan:grid',
        'call:b:1.plan:grid',
        'call:c:1.plan:grid',
      ]);
      for (const { f } of followers) f.stop();
    },
  );

  it(
    "follower - a beat callback that stops clients mid-batch (steps inside steps on the gate's " +
      'shared effects stack): the stopped ones fire nothing more, the others go on',
    () => {
      const clock = new FakeClock(T0 - 1);
      const gate = new FrameGate(CLUSTER, clock, { aheadMs: 50 });
      const timer = new SlotTimer(clock);
      const log: string[] = [];
      const make = (id: string) => {
        const metrics = new SdkMetrics();
        const hlc = new Hlc(id, { clock });
        const f = new BeatFollower({
          clusterId: CLUSTER,
          clock,
          hlc,
          toleranceMs: 50,
          timing: 'frames',
          maxClockOffsetMs: 20,
          metrics,
          timer,
          onError: () => {},
          onDegradation: () => {},
        });
        f.attach(gate);
        f.start();
        return { f, metrics };
      };
      const [a, b, c] = [make('a'), make('b'), make('c')];
      // a stops itself and c while its own first slot's effects are being carried out.
      a.f.onPhase((fr) => {
        log.push(`a:${fr.beat_index}.${fr.phase}`);
        a.f.stop();
        c.f.stop();
      });
      b.f.onPhase((fr) => log.push(`b:${fr.beat_index}.${fr.phase}`));
      c.f.onPhase((fr) => log.push(`c:${fr.beat_index}.${fr.phase}`));
      gate.setMap(map);
      for (let k = 0; k < 3; k++) {
        clock.advanceTo(slot(map, 0, k).phaseStart + 1);
        gate.offer({ frame: frame(map, 0, k), termHeader: '1', receivedAt: clock.now() });
      }
      clock.advanceTo(slot(map, 2, 0).phaseStart + 60); // b keeps time alone when frames stop (local slots)
      expect(log.slice(0, 4)).toEqual(['a:0.plan', 'b:0.plan', 'b:0.execute', 'b:0.review']);
      expect(log.slice(4).every((l) => l.startsWith('b:'))).toBe(true);
      expect(log.length).toBeGreaterThan(6);
      // b's bookkeeping ran for every slot it fired (its effects were carried out after a's nested steps).
      expect(b.metrics.snapshot.callbacks).toBe(log.length - 1);
      expect(a.metrics.snapshot.callbacks + c.metrics.snapshot.callbacks).toBeLessThanOrEqual(1);
      b.f.stop();
    },
  );

  it('follower grid - a clock proven behind the leader falls back to frames timing and says so', () => {
    const { clock, gate, f, fired, deliver } = setup(50, 'grid');
    gate.setMap(map);
    // Frames arrive 30 ms before their slot by this clock: it is at least 30 ms behind (bound 20).
    for (let k = 1; k < 8; k++) {
      const s = slot(map, Math.floor(k / 3), k % 3);
      clock.advanceTo(s.phaseStart - 30);
      deliver(frame(map, s.beatIndex, s.phaseIndex));
    }
    expect(f.timing).toBe('frames');
    expect(f.timingFallback).toMatch(/at least 30\.0 ms behind the leader's \(bound 20 ms\)/);
    expect(fired.filter((x) => x.source === 'leader').length).toBeGreaterThanOrEqual(6);
    const slots = fired.map((x) => x.slot);
    expect(new Set(slots).size).toBe(slots.length);
  });
});
