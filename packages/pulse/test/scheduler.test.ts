import { describe, expect, it } from 'vitest';
import { applyTempoChange, createTempoMap, FakeClock, type TempoMap } from '@backbeat/core';
import { BeatScheduler, type SlotEvent } from '@backbeat/pulse/internal';

const T0 = 1_700_000_000_000;

function setup(map: TempoMap, clock = new FakeClock(T0 - 10)) {
  let current = map;
  const fired: SlotEvent[] = [];
  const skipped: SlotEvent[] = [];
  const s = new BeatScheduler({
    clock,
    map: () => current,
    onSlot: (e) => fired.push(e),
    onSkip: (e) => skipped.push(e),
    staleAfterMs: 100,
  });
  return { clock, s, fired, skipped, setMap: (m: TempoMap) => (current = m) };
}

describe('scheduler - grid timing', () => {
  it('scheduler - fires every slot exactly at its scheduled time, never early', () => {
    const { clock, s, fired } = setup(createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 }));
    s.start();
    clock.advance(2_000);
    expect(fired).toHaveLength(12);
    for (const e of fired) expect(e.firedAt).toBe(e.pos.phaseStart);
    expect(fired.map((e) => `${e.pos.beatIndex}.${e.pos.phase}`).slice(0, 4)).toEqual([
      '0.plan',
      '0.execute',
      '0.review',
      '1.plan',
    ]);
  });

  it('scheduler - after a stall it skips stale slots and resumes at the present (no burst)', () => {
    const { clock, s, fired, skipped } = setup(createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 }));
    s.start();
    clock.advance(600); // beat 1 plan fired at T0+500
    const before = fired.length;
    // The event loop is blocked for 2 s: the clock moves with no timer able to run.
    clock.stall(2_000);
    clock.advance(50);
    const late = fired.slice(before).filter((e) => e.firedAt - e.pos.phaseStart > 100);
    expect(late).toEqual([]);
    expect(skipped.length).toBeGreaterThanOrEqual(10);
    clock.advance(1000);
    const after = fired.slice(before);
    const indices = after.map((e) => e.pos.beatIndex * 3 + e.pos.phaseIndex);
    expect(indices).toEqual([...indices].sort((a, b) => a - b));
    expect(new Set(indices).size).toBe(indices.length);
  });

  it('scheduler - follows a tempo change at the downbeat with no gap', () => {
    const map = createTempoMap({ startTime: T0, tempoBpm: 60, barLength: 2 });
    const { clock, s, fired, setMap } = setup(map);
    s.start();
    clock.advance(500);
    const changed = applyTempoChange(map, 66, clock.now());
    setMap(changed.map);
    clock.advance(6_000);
    const first = fired.find((e) => e.pos.beatIndex === changed.effectiveBeat && e.pos.phaseIndex === 0)!;
    expect(first.firedAt).toBe(changed.effectiveTime);
    expect(first.pos.tempoBpm).toBe(66);
    const next = fired.find((e) => e.pos.beatIndex === changed.effectiveBeat + 1 && e.pos.phaseIndex === 0)!;
    expect(next.firedAt - first.firedAt).toBeCloseTo(60_000 / 66, 3);
  });
});

import { DriftTracker } from '@backbeat/pulse/internal';

describe('drift tracker - REQ-003', () => {
  it('drift - a constant delay is not drift; a slowly growing offset is', () => {
    const steady = new DriftTracker();
    for (let i = 0; i < 30; i++) steady.record(T0 + i * 1000 + 5, T0 + i * 1000, T0, T0);
    expect(steady.ratio()).toBeCloseTo(0, 9);
    const drifting = new DriftTracker();
    for (let i = 0; i < 30; i++) drifting.record(T0 + i * 1000 * 1.02, T0 + i * 1000, T0, T0);
    expect(drifting.ratio()).toBeCloseTo(0.02 / 1.02, 9); // offset grows 20 ms per 1020 ms elapsed
    expect(drifting.report(false)).toMatchObject({ within_limits: false, samples: 30 });
  });

  it('drift - stays 0 until the samples span 10 s', () => {
    const d = new DriftTracker();
    d.record(T0, T0, T0, T0);
    d.record(T0 + 1000 + 50, T0 + 1000, T0, T0);
    expect(d.ratio()).toBe(0);
  });
});

describe('scheduler - survives any exception in a slot', () => {
  it('scheduler - a slot callback that throws is reported and the next slots still fire', () => {
    const clock = new FakeClock(T0 - 10);
    const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    const fired: number[] = [];
    const errors: string[] = [];
    const s = new BeatScheduler({
      clock,
      map: () => map,
      onSlot: (e) => {
        fired.push(e.pos.beatIndex * 3 + e.pos.phaseIndex);
        if (fired.length % 2 === 1) throw new Error('boom');
      },
      onArm: () => {
        throw new Error('arm');
      },
      onError: (err) => errors.push(err.message),
    });
    s.start();
    clock.advance(1_000);
    expect(fired).toEqual([0, 1, 2, 3, 4, 5]); // T0 to T0 + 990: six slots of 167 ms
    expect(errors.filter((m) => m === 'boom')).toHaveLength(3);
    expect(errors.filter((m) => m === 'arm').length).toBeGreaterThanOrEqual(6);
    s.stop();
  });

  it('scheduler - a tempo map that throws stops no timer: it retries and resumes when the map is good again', () => {
    const clock = new FakeClock(T0 - 10);
    const good = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    let broken = false;
    const fired: number[] = [];
    const errors: string[] = [];
    const s = new BeatScheduler({
      clock,
      map: () => {
        if (broken) throw new Error('bad map');
        return good;
      },
      onSlot: (e) => fired.push(e.pos.beatIndex * 3 + e.pos.phaseIndex),
      onError: (err) => errors.push(err.message),
    });
    s.start();
    clock.advance(400);
    const before = fired.length;
    broken = true;
    clock.advance(2_000);
    expect(errors.length).toBeGreaterThan(0);
    broken = false;
    clock.advance(2_000);
    expect(fired.length).toBeGreaterThan(before + 3);
    const after = fired.slice(before);
    expect(new Set(after).size).toBe(after.length);
    s.stop();
    expect(clock.pending).toBe(0);
  });
});
