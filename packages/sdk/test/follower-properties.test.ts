import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSlots,
  createTempoMap,
  FakeClock,
  Hlc,
  positionAt,
  slot,
  windowId,
  type TempoMap,
} from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { Timing } from '@backbeat/sdk';
import { BeatFollower, FrameGate, SdkMetrics, SlotTimer } from '@backbeat/sdk/internal';

const T0 = 1_700_000_000_000;
const CLUSTER = 'prop';
const TOLERANCE = 50;

type Tamper = 'none' | 'tempo' | 'deadline' | 'window' | 'cluster';
type Event =
  | { kind: 'advance'; ms: number }
  | { kind: 'stall'; ms: number }
  | { kind: 'frame'; beatDelta: number; huge: boolean; phase: number; term: number | string; tamper: Tamper }
  | { kind: 'lease'; term: number | null }
  | { kind: 'garbage' }
  /** The true leader's frame for the slot holding now, with the lease's term. */
  | { kind: 'leader' };

const event: fc.Arbitrary<Event> = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('stall' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({
    kind: fc.constant('frame' as const),
    beatDelta: fc.integer({ min: -3, max: 5 }),
    huge: fc.boolean(),
    phase: fc.integer({ min: 0, max: 2 }),
    term: fc.oneof(
      fc.integer({ min: 1, max: 4 }),
      fc.constant(999_999_999),
      fc.constantFrom('x', '', '1e3', '-1', '01'),
    ),
    tamper: fc.constantFrom<Tamper>('none', 'none', 'none', 'tempo', 'deadline', 'window', 'cluster'),
  }),
  fc.record({ kind: fc.constant('lease' as const), term: fc.option(fc.integer({ min: 1, max: 4 })) }),
  fc.record({ kind: fc.constant('garbage' as const) }),
  fc.record({ kind: fc.constant('leader' as const) }),
  fc.record({ kind: fc.constant('leader' as const) }),
  fc.record({ kind: fc.constant('leader' as const) }),
);

/** A frame for (beat, phase) of `map`, maybe tampered with. */
function frameOf(map: TempoMap, beat: number, phase: number, tamper: Tamper): BeatFrame {
  const s = slot(map, beat, phase);
  return {
    type: 'backbeat.beatframe.v1',
    cluster_id: tamper === 'cluster' ? 'other' : CLUSTER,
    beat_index: beat,
    downbeat: s.downbeat,
    phase: s.phase,
    hlc: '7ffd:0001:abcd',
    deadline_at: new Date(s.phaseEnd + (tamper === 'deadline' ? 40 : 0)).toISOString(),
    tempo_bpm: s.tempoBpm * (tamper === 'tempo' ? 1.1 : 1),
    window_id: tamper === 'window' ? '0'.repeat(32) : windowId(CLUSTER, s.downbeatIndex),
    scheduled_at: new Date(s.phaseStart).toISOString(),
    bar_length: map.barLength,
    phases: ['plan', 'execute', 'review'],
  };
}

let totalFired = 0;
let leaderFired = 0;

function run(events: Event[], timing: Timing, fromKv: boolean): void {
  const clock = new FakeClock(T0 - 1);
  const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
  const gate = new FrameGate(CLUSTER, clock, { aheadMs: TOLERANCE });
  const metrics = new SdkMetrics();
  const f = new BeatFollower({
    clusterId: CLUSTER,
    clock,
    hlc: new Hlc('p', { clock }),
    toleranceMs: TOLERANCE,
    timing,
    maxClockOffsetMs: 20,
    metrics,
    timer: new SlotTimer(clock),
    onError: () => {},
    onDegradation: () => {},
  });
  const fired: Array<{ beat: number; phase: number; at: number; frame: BeatFrame }> = [];
  f.onPhase((fr, info) =>
    fired.push({ beat: fr.beat_index, phase: map.phases.indexOf(fr.phase), at: info.receivedAt, frame: fr }),
  );
  f.attach(gate);
  if (fromKv) gate.setMap(map);
  f.start();
  let callsNow = 0;
  let lastNow = clock.now();
  f.onPhase(() => {
    if (clock.now() !== lastNow) callsNow = 0;
    lastNow = clock.now();
    callsNow++;
    // No input makes it fire more than one slot at one instant: only the slot holding now is due.
    expect(callsNow).toBe(1);
  });
  for (const e of events) {
    if (e.kind === 'advance') clock.advance(e.ms);
    else if (e.kind === 'stall') clock.stall(e.ms);
    else if (e.kind === 'lease')
      gate.setLease(
        e.term === null ? { state: 'absent', reason: 'test' } : { state: 'held', term: e.term, nodeId: 'n' },
      );
    else if (e.kind === 'garbage') gate.offer({ error: 'not JSON', termHeader: '1', receivedAt: clock.now() });
    else if (e.kind === 'leader') {
      const cur = positionAt(map, clock.now());
      const lease = gate.lease;
      if (cur)
        gate.offer({
          frame: frameOf(map, cur.beatIndex, cur.phaseIndex, 'none'),
          termHeader: String(lease.state === 'held' ? lease.term : 1),
          receivedAt: clock.now(),
        });
    } else {
      const cur = positionAt(map, clock.now())?.beatIndex ?? 0;
      const beat = e.huge ? 1_000_000 : Math.max(0, cur + e.beatDelta);
      gate.offer({ frame: frameOf(map, beat, e.phase, e.tamper), termHeader: String(e.term), receivedAt: clock.now() });
    }
  }
  clock.advance(2000);
  // Never twice, never backwards: strictly increasing slots.
  for (let i = 1; i < fired.length; i++)
    expect(
      compareSlots(
        { beatIndex: fired[i]!.beat, phaseIndex: fired[i]!.phase },
        { beatIndex: fired[i - 1]!.beat, phaseIndex: fired[i - 1]!.phase },
      ),
    ).toBeGreaterThan(0);
  for (const x of fired) {
    const s = slot(map, x.beat, x.phase);
    // Only due slots: none before its start (bar the tolerance) and none after its phase ended.
    expect(x.at).toBeGreaterThanOrEqual(s.phaseStart - TOLERANCE);
    expect(x.at).toBeLessThanOrEqual(s.phaseEnd);
    // Every slot fired is the true grid's, whatever the frames said.
    expect(x.frame).toMatchObject({
      cluster_id: CLUSTER,
      tempo_bpm: s.tempoBpm,
      window_id: windowId(CLUSTER, s.downbeatIndex),
      deadline_at: new Date(s.phaseEnd).toISOString(),
    });
  }
  totalFired += fired.length;
  leaderFired +=
    metrics.snapshot.framesReceived - Object.values(metrics.snapshot.framesDropped).reduce((a, b) => a + b, 0);
  f.stop();
  gate.stop();
}

describe('sdk follower - properties (fast-check, FakeClock)', () => {
  it(
    'follower - for any frames, lease updates, stalls and garbage: no slot ' +
      'twice, never backwards, only due slots (frames timing)',
    () => {
      fc.assert(
        fc.property(fc.array(event, { maxLength: 60 }), (events) => run(events, 'frames', true)),
        { numRuns: 300 },
      );
    },
  );

  it('follower - the same in grid timing', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => run(events, 'grid', true)),
      { numRuns: 300 },
    );
    // Not vacuous: slots fired, leader frames among them.
    expect(totalFired).toBeGreaterThan(1000);
    expect(leaderFired).toBeGreaterThan(50);
  });
});
