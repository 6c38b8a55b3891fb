import { describe, expect, it } from 'vitest';
import { createTempoMap, FakeClock, Hlc, slot, windowId, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import { BeatFollower, type BeatInfo } from '@backbeat/sdk';

const T0 = 1_700_000_000_000;
const CLUSTER = 'c1';

/** What the leader would send for (beat, phase). */
function frame(map: TempoMap, beat: number, phase: number): BeatFrame {
  const s = slot(map, beat, phase);
  return {
    type: 'backbeat.beatframe.v1',
    cluster_id: CLUSTER,
    beat_index: beat,
    downbeat: s.downbeat,
    phase: s.phase,
    hlc: '7ffd:0001:abcd',
    deadline_at: new Date(s.phaseEnd).toISOString(),
    tempo_bpm: s.tempoBpm,
    window_id: windowId(CLUSTER, s.downbeatIndex),
    scheduled_at: new Date(s.phaseStart).toISOString(),
    bar_length: map.barLength,
    phases: ['plan', 'execute', 'review'],
  };
}

function setup(toleranceMs = 50) {
  const clock = new FakeClock(T0 - 1);
  const fired: Array<{ slot: string; source: BeatInfo['source']; at: number; scheduled: number }> = [];
  const dropped: string[] = [];
  const f = new BeatFollower(CLUSTER, clock, new Hlc('t', { clock }), toleranceMs, {
    fire: (fr, info) => fired.push({ slot: `${fr.beat_index}.${fr.phase}`, source: info.source, at: info.receivedAt, scheduled: info.scheduledAt }),
    dropped: (r) => dropped.push(r),
    degradation: () => {},
  });
  f.start();
  return { clock, f, fired, dropped };
}

describe('sdk follower - leader frames and local degradation (REQ-003)', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });

  it('follower - fires each leader frame once, in order', () => {
    const { clock, f, fired } = setup();
    for (let b = 0; b < 2; b++)
      for (let p = 0; p < 3; p++) {
        clock.advanceTo(slot(map, b, p).phaseStart + 1);
        f.onFrame(frame(map, b, p), 1, clock.now());
      }
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual(['0.plan:leader', '0.execute:leader', '0.review:leader', '1.plan:leader', '1.execute:leader', '1.review:leader']);
  });

  it('follower - a late leader: local slots at scheduled + tolerance, then rejoins with no slot twice', () => {
    const { clock, f, fired, dropped } = setup();
    clock.advanceTo(T0 + 1);
    f.onFrame(frame(map, 0, 0), 1, clock.now());
    clock.advanceTo(slot(map, 1, 0).phaseStart + 60); // leader silent for a while
    expect(f.degraded).toBe(true);
    const local = fired.filter((x) => x.source === 'local');
    expect(local.map((x) => x.slot)).toEqual(['0.execute', '0.review', '1.plan']);
    for (const x of local) expect(x.at - x.scheduled).toBe(50);
    // The leader's frame for 1.plan arrives now: already fired locally, not again.
    f.onFrame(frame(map, 1, 0), 1, clock.now());
    expect(dropped).toEqual(['duplicate']);
    expect(f.degraded).toBe(false);
    clock.advanceTo(slot(map, 1, 1).phaseStart + 2);
    f.onFrame(frame(map, 1, 1), 1, clock.now());
    const slots = fired.map((x) => x.slot);
    expect(slots).toEqual(['0.plan', '0.execute', '0.review', '1.plan', '1.execute']);
    expect(fired.at(-1)!.source).toBe('leader');
  });

  it('follower - drops frames of an older term and frames going backwards', () => {
    const { clock, f, dropped } = setup();
    clock.advanceTo(slot(map, 2, 0).phaseStart + 1);
    f.onFrame(frame(map, 2, 0), 5, clock.now());
    f.onFrame(frame(map, 2, 1), 4, clock.now());
    f.onFrame(frame(map, 1, 2), 5, clock.now());
    expect(dropped).toEqual(['old_term', 'backwards']);
  });

  it('follower - a failover gap is filled locally before the new leader frame', () => {
    const { clock, f, fired } = setup(500); // tolerance longer than the gap
    clock.advanceTo(T0 + 1);
    f.onFrame(frame(map, 0, 0), 1, clock.now());
    clock.advanceTo(slot(map, 1, 0).phaseStart + 1);
    f.onFrame(frame(map, 1, 0), 2, clock.now());
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual(['0.plan:leader', '0.execute:local', '0.review:local', '1.plan:leader']);
  });

  it('follower - after 10 minutes without a leader the local grid is within 1 ms of the leader grid', () => {
    const { clock, f, fired } = setup();
    clock.advanceTo(T0 + 1);
    f.onFrame(frame(map, 0, 0), 1, clock.now()); // the map is learned from frames only
    clock.advanceTo(T0 + 10 * 60_000 + 100);
    const last = fired.at(-1)!;
    const [beat, phase] = last.slot.split('.') as [string, string];
    const leaderTime = slot(map, Number(beat), ['plan', 'execute', 'review'].indexOf(phase)).phaseStart;
    expect(Math.abs(last.scheduled - leaderTime)).toBeLessThan(1);
    expect(fired.length).toBe(10 * 60 * 2 * 3 + 1);
    expect(new Set(fired.map((x) => x.slot)).size).toBe(fired.length);
  });
});

import { Registry } from 'prom-client';
import { MemoryBus } from '@backbeat/transport';
import { createClient } from '@backbeat/sdk';

describe('sdk metrics - prom-client registry', () => {
  it('metrics - registered with the backbeat_sdk_ names when a registry is given', async () => {
    const registry = new Registry();
    const bus = new MemoryBus();
    const c = createClient({ clusterId: 'm', agentId: 'agent:m1', bus, registry });
    await c.start();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(
      [
        'backbeat_sdk_callback_duration_seconds',
        'backbeat_sdk_claims_emitted_total',
        'backbeat_sdk_claims_failed_total',
        'backbeat_sdk_frames_dropped_total',
        'backbeat_sdk_frames_received_total',
        'backbeat_sdk_frames_synthesized_total',
        'backbeat_sdk_hlc_skew_seconds',
        'backbeat_sdk_local_degradation',
      ].sort(),
    );
    await c.stop();
    await bus.close();
  });
});
