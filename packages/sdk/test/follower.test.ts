import { describe, expect, it } from 'vitest';
import { createTempoMap, FakeClock, Hlc, slot, windowId, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatInfo, Timing } from '@backbeat/sdk';
import { BeatFollower, FrameGate, HOLD_MS, SdkMetrics, SETTLE_DELAY_MS, SlotTimer } from '@backbeat/sdk/internal';

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

/** A gate and one follower on a FakeClock, as the beat hub wires them (no bus). */
function setup(toleranceMs = 50, timing: Timing = 'frames') {
  const clock = new FakeClock(T0 - 1);
  const fired: Array<{ slot: string; source: BeatInfo['source']; at: number; scheduled: number }> = [];
  const dropped: string[] = [];
  const metrics = new (class extends SdkMetrics {
    override dropped(reason: string): void {
      dropped.push(reason);
      super.dropped(reason);
    }
  })();
  const gate = new FrameGate(CLUSTER, clock, { aheadMs: toleranceMs });
  const f = new BeatFollower({
    clusterId: CLUSTER,
    clock,
    hlc: new Hlc('t', { clock }),
    toleranceMs,
    timing,
    maxClockOffsetMs: 20,
    metrics,
    timer: new SlotTimer(clock),
    onError: () => {},
    onDegradation: () => {},
  });
  f.attach(gate);
  f.onPhase((fr, info) =>
    fired.push({
      slot: `${fr.beat_index}.${fr.phase}`,
      source: info.source,
      at: info.receivedAt,
      scheduled: info.scheduledAt,
    }),
  );
  f.start();
  /** Delivers a frame with a term header at the clock's now. */
  const deliver = (fr: BeatFrame, term: number | string = 1) =>
    gate.offer({ frame: fr, termHeader: String(term), receivedAt: clock.now() });
  return { clock, f, gate, fired, dropped, metrics, deliver };
}

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
        'backbeat_sdk_slots_skipped_total',
        'backbeat_sdk_grid_confirmation_lag_seconds',
        'backbeat_sdk_clock_offset_seconds',
      ].sort(),
    );
    await c.stop();
    await bus.close();
  });
});

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
    'follower grid - clients sharing a timer and a gate are all ' + 'called before any of them does its bookkeeping',
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

describe('sdk gate - holding a frame until KV confirms it', () => {
  const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });

  it('gate - a newer term waits for the lease: accepted once the lease shows it, bad_term after the hold', () => {
    const { clock, gate, fired, dropped, deliver } = setup();
    gate.setMap(map);
    gate.setLease({ state: 'held', term: 1, nodeId: 'a' });
    clock.advanceTo(slot(map, 0, 0).phaseStart + 1);
    deliver(frame(map, 0, 0), 2); // the new leader's frame before its lease reached this client
    expect(fired).toHaveLength(0);
    gate.setLease({ state: 'held', term: 2, nodeId: 'b' });
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual(['0.plan:leader']);
    clock.advanceTo(slot(map, 0, 1).phaseStart + 1);
    deliver(frame(map, 0, 1), 3); // a term the lease never shows
    gate.setLease({ state: 'held', term: 2, nodeId: 'b' }); // a renewal: no news for term 3
    clock.advance(HOLD_MS);
    expect(dropped).toContain('bad_term');
    // the held frame never fired
    expect(fired.map((x) => `${x.slot}:${x.source}`)).toEqual(['0.plan:leader', '0.execute:local', '0.review:local']);
  });

  it('gate - only the newest questionable frame is held: the older one is settled at once', () => {
    const { clock, gate, dropped, deliver } = setup();
    gate.setMap(map);
    gate.setLease({ state: 'held', term: 1, nodeId: 'a' });
    clock.advanceTo(slot(map, 0, 0).phaseStart + 1);
    deliver(frame(map, 0, 0), 7);
    deliver(frame(map, 0, 0), 8);
    expect(dropped).toEqual(['bad_term']);
  });

  it('gate - a frame off the map is held while the map is re-read; the new map lets it in', () => {
    const refreshed: string[] = [];
    const clock = new FakeClock(T0 - 1);
    const gate = new FrameGate(CLUSTER, clock, { aheadMs: 50, refresh: (w) => refreshed.push(w) });
    const accepted: string[] = [];
    gate.listeners.add({
      accept: (a) => accepted.push(`${a.frame.beat_index}.${a.frame.phase}@${a.frame.tempo_bpm}`),
      drop: () => {},
      mapChanged: () => {},
      leaseChanged: () => {},
    });
    gate.setMap(map);
    const faster = {
      ...map,
      segments: [...map.segments, { startBeat: 4, startTime: slot(map, 4, 0).beatStart, tempoBpm: 132 }],
    };
    clock.advanceTo(slot(faster, 4, 0).phaseStart + 1);
    gate.offer({ frame: frame(faster, 4, 0), termHeader: '1', receivedAt: clock.now() });
    expect(accepted).toEqual([]);
    expect(refreshed).toEqual(['map']);
    gate.setMap(faster);
    expect(accepted).toEqual(['4.plan@132']);
  });
});
