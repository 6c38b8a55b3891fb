import { describe, expect, it } from 'vitest';
import { createTempoMap, slot } from '@backbeat/core';
import { frame, setup, T0 } from './follower-setup.js';

describe('sdk follower - leader frames and local degradation (REQ-003)', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });

  it('follower - fires each leader frame once, in order', () => {
    const { clock, fired, deliver } = setup();
    for (let b = 0; b < 2; b++)
      for (let p = 0; p < 3; p++) {
        clock.advanceTo(slot(map, b, p).phaseStart + 1);
        deliver(frame(map, b, p));
      }
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual([
      '0.plan:leader',
      '0.execute:leader',
      '0.review:leader',
      '1.plan:leader',
      '1.execute:leader',
      '1.review:leader',
    ]);
  });

  it('follower - a late leader: local slots at scheduled + tolerance, then rejoins with no slot twice', () => {
    const { clock, f, fired, dropped, deliver } = setup();
    clock.advanceTo(T0 + 1);
    deliver(frame(map, 0, 0));
    clock.advanceTo(slot(map, 1, 0).phaseStart + 60); // leader silent for a while
    expect(f.degraded).toBe(true);
    const local = fired.filter((x) => x.source === 'local');
    expect(local.map((x) => x.slot)).toEqual(['0.execute', '0.review', '1.plan']);
    for (const x of local) expect(x.at - x.scheduled).toBe(50);
    // The leader's frame for 1.plan arrives now: already fired locally, not again.
    deliver(frame(map, 1, 0));
    expect(dropped).toEqual(['duplicate']);
    expect(f.degraded).toBe(false);
    clock.advanceTo(slot(map, 1, 1).phaseStart + 2);
    deliver(frame(map, 1, 1));
    const slots = fired.map((x) => x.slot);
    expect(slots).toEqual(['0.plan', '0.execute', '0.review', '1.plan', '1.execute']);
    expect(fired.at(-1)!.source).toBe('leader');
  });

  it('follower - drops frames of an older term (the lease says which) and frames going backwards', () => {
    const { clock, gate, dropped, deliver } = setup();
    gate.setLease({ state: 'held', term: 5, nodeId: 'p1' });
    clock.advanceTo(slot(map, 2, 0).phaseStart + 1);
    deliver(frame(map, 2, 0), 5);
    deliver(frame(map, 2, 1), 4);
    deliver(frame(map, 1, 2), 5);
    expect(dropped).toEqual(['old_term', 'stale']); // 1.review ended before 2.plan: stale before backwards
    deliver(frame(map, 2, 0), 5);
    expect(dropped.at(-1)).toBe('duplicate');
    // 2.execute arrives 10 ms early (within the tolerance) and fires; 2.plan, still current, is then backwards.
    clock.advanceTo(slot(map, 2, 1).phaseStart - 10);
    deliver(frame(map, 2, 1), 5);
    deliver(frame(map, 2, 0), 5);
    expect(dropped.slice(2)).toEqual(['duplicate', 'backwards']);
  });

  it('follower - a failover gap is filled locally before the new leader frame', () => {
    const { clock, fired, deliver } = setup(500); // tolerance longer than the gap
    clock.advanceTo(T0 + 1);
    deliver(frame(map, 0, 0));
    clock.advanceTo(slot(map, 1, 0).phaseStart + 1);
    deliver(frame(map, 1, 0), 2);
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual([
      '0.plan:leader',
      '0.execute:local',
      '0.review:local',
      '1.plan:leader',
    ]);
  });

  it('follower - after 10 minutes without a leader the local grid is within 1 ms of the leader grid', () => {
    const { clock, fired, deliver } = setup();
    clock.advanceTo(T0 + 1);
    deliver(frame(map, 0, 0)); // the map is learned from frames only
    clock.advanceTo(T0 + 10 * 60_000 + 100);
    const last = fired.at(-1)!;
    const [beat, phase] = last.slot.split('.') as [string, string];
    const leaderTime = slot(map, Number(beat), ['plan', 'execute', 'review'].indexOf(phase)).phaseStart;
    expect(Math.abs(last.scheduled - leaderTime)).toBeLessThan(1);
    expect(fired.length).toBe(10 * 60 * 2 * 3 + 1);
    expect(new Set(fired.map((x) => x.slot)).size).toBe(fired.length);
  });
});
