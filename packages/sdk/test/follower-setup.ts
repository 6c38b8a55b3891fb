/**
 * A frame gate and one follower on a FakeClock, wired as the beat hub wires them (no bus), and
 * the frame the leader would send for a slot: shared by the follower and frame-gate tests.
 */
import { FakeClock, Hlc, slot, windowId, type TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatInfo, Timing } from '@backbeat/sdk';
import { BeatFollower, FrameGate, SdkMetrics, SlotTimer } from '@backbeat/sdk/internal';

export const T0 = 1_700_000_000_000;
export const CLUSTER = 'c1';

/** What the leader would send for (beat, phase). */
export function frame(map: TempoMap, beat: number, phase: number): BeatFrame {
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
export function setup(toleranceMs = 50, timing: Timing = 'frames') {
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
