import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTempoMap, FakeClock, positionAt, slot, type TempoMap } from '@backbeat/core';
import { buildBeatFrame, parseBeatFrame } from '@backbeat/contracts';
import type { DropReason, LeaseView } from '@backbeat/sdk';
import { FrameGate, type AcceptedFrame, type GateListener } from '@backbeat/sdk/internal';

const T0 = 1_700_000_000_000;
const CLUSTER = 'tpl';
const enc = new TextEncoder();

/** Records what a gate tells its listeners. */
class Recorder implements GateListener {
  readonly verdicts: unknown[] = [];
  accept(f: AcceptedFrame): void {
    this.verdicts.push({
      accept: f.frame,
      beat: f.pos.beatIndex,
      phase: f.pos.phaseIndex,
      term: f.term,
      at: f.receivedAt,
    });
  }
  drop(reason: DropReason, detail: string): void {
    this.verdicts.push({ drop: reason, detail });
  }
  mapChanged(): void {
    this.verdicts.push('map');
  }
  leaseChanged(lease: LeaseView): void {
    this.verdicts.push({ lease: lease.state });
  }
}

/** The bytes the pulse publishes for a slot (its frame encoder splices the HLC into this text). */
function pulseBytes(map: TempoMap, beat: number, phase: number, hlc: string): Uint8Array {
  return enc.encode(JSON.stringify(buildBeatFrame(CLUSTER, map, slot(map, beat, phase), hlc)));
}

type Mutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; to: number }
  | { kind: 'hlc'; hlc: string }
  | { kind: 'field'; field: string; value: unknown }
  | { kind: 'drop-field'; field: string }
  | { kind: 'append'; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.constant<Mutation>({ kind: 'none' }), weight: 6 },
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat({ max: 400 }), to: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('hlc' as const),
    hlc: fc.constantFrom(
      'ABCD:0001:abcd',
      '7ffd:0001',
      '7ffd:0001:abcd:0001',
      '7ffd:0001:abcd","x":"1',
      '',
      '12345678901234567:0000:abcd',
      '7ffd:0001:abcz',
      '0000:0000:0000',
    ),
  }),
  fc.record({
    kind: fc.constant('field' as const),
    field: fc.constantFrom(
      'tempo_bpm',
      'downbeat',
      'window_id',
      'deadline_at',
      'cluster_id',
      'bar_length',
      'phases',
      'extra',
    ),
    value: fc.constantFrom<unknown>(121, true, false, 'x', '0'.repeat(32), null, ['plan'], 7),
  }),
  fc.record({
    kind: fc.constant('drop-field' as const),
    field: fc.constantFrom('scheduled_at', 'phases', 'bar_length', 'hlc', 'type'),
  }),
  fc.record({ kind: fc.constant('append' as const), text: fc.constantFrom(' ', '\n', 'x', '}') }),
);

function mutate(map: TempoMap, beat: number, phase: number, hlc: string, m: Mutation): Uint8Array {
  if (m.kind === 'none') return pulseBytes(map, beat, phase, hlc);
  if (m.kind === 'hlc') return pulseBytes(map, beat, phase, m.hlc);
  if (m.kind === 'flip') {
    const b = pulseBytes(map, beat, phase, hlc);
    b[m.at % b.length] = m.to;
    return b;
  }
  if (m.kind === 'append') return enc.encode(new TextDecoder().decode(pulseBytes(map, beat, phase, hlc)) + m.text);
  const f: Record<string, unknown> = { ...buildBeatFrame(CLUSTER, map, slot(map, beat, phase), hlc) };
  if (m.kind === 'field') f[m.field] = m.value;
  else delete f[m.field];
  return enc.encode(JSON.stringify(f));
}

type Event =
  | { kind: 'advance'; ms: number }
  | { kind: 'frame'; beatDelta: number; phase: number | null; term: string; hlc: string; m: Mutation }
  | { kind: 'lease'; term: number | null }
  | { kind: 'map'; tempo: number | null }
  /** The leader's next frame, at its slot's start + `late` ms. */
  | { kind: 'next'; late: number };

const event: fc.Arbitrary<Event> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      beatDelta: fc.integer({ min: -1, max: 2 }),
      phase: fc.option(fc.integer({ min: 0, max: 2 }), { freq: 2 }),
      term: fc.constantFrom('1', '1', '1', '2', '01', 'x'),
      hlc: fc.constantFrom(
        '18bcfe56800:0000:abcd',
        '7ffd:0001:abcd',
        'ffffffffffffffff:ffffffffffffffff:ffffffffffffffff',
      ),
      m: mutation,
    }),
    weight: 6,
  },
  fc.record({ kind: fc.constant('lease' as const), term: fc.option(fc.integer({ min: 1, max: 2 }), { freq: 3 }) }),
  fc.record({ kind: fc.constant('map' as const), tempo: fc.option(fc.constantFrom(120, 132), { freq: 2 }) }),
  { arbitrary: fc.record({ kind: fc.constant('next' as const), late: fc.integer({ min: 0, max: 5 }) }), weight: 8 },
);

let matched = 0;

/** The same events into a gate fed bytes and one fed parsed frames: the same verdicts. */
function run(events: Event[]): void {
  const clock = new FakeClock(T0 + 1);
  let map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
  const bytesGate = new FrameGate(CLUSTER, clock, { aheadMs: 50 });
  const parsedGate = new FrameGate(CLUSTER, clock, { aheadMs: 50 });
  const a = new Recorder();
  const b = new Recorder();
  bytesGate.listeners.add(a);
  parsedGate.listeners.add(b);
  for (const g of [bytesGate, parsedGate]) {
    g.setMap(map);
    g.setLease({ state: 'held', term: 1, nodeId: 'n' });
  }
  for (const e of events) {
    if (e.kind === 'advance') clock.advance(e.ms);
    else if (e.kind === 'lease') {
      const lease: LeaseView =
        e.term === null ? { state: 'absent', reason: 'test' } : { state: 'held', term: e.term, nodeId: 'n' };
      bytesGate.setLease(lease);
      parsedGate.setLease(lease);
    } else if (e.kind === 'map') {
      // A new map object (equal or at another tempo): a template of the old one must not hold.
      map = createTempoMap({ startTime: T0, tempoBpm: e.tempo ?? 120, barLength: 4 });
      bytesGate.setMap(map);
      parsedGate.setMap(map);
    } else if (e.kind === 'next') {
      const cur = positionAt(map, clock.now());
      if (!cur) continue;
      const next = cur.phaseIndex < 2 ? slot(map, cur.beatIndex, cur.phaseIndex + 1) : slot(map, cur.beatIndex + 1, 0);
      clock.advanceTo(next.phaseStart + e.late);
      const data = pulseBytes(map, next.beatIndex, next.phaseIndex, `${clock.wallNow().toString(16)}:0000:abcd`);
      const term = String(bytesGate.lease.state === 'held' ? bytesGate.lease.term : 1);
      bytesGate.offerBytes(data, term, clock.now());
      const r = parseBeatFrame(data);
      parsedGate.offer(
        r.ok
          ? { frame: r.message, termHeader: term, receivedAt: clock.now() }
          : { error: r.error.message, termHeader: term, receivedAt: clock.now() },
      );
    } else {
      const cur = positionAt(map, clock.now());
      if (!cur) continue;
      const beat = Math.max(0, cur.beatIndex + e.beatDelta);
      const data = mutate(map, beat, e.phase ?? cur.phaseIndex, e.hlc, e.m);
      bytesGate.offerBytes(data, e.term, clock.now());
      const r = parseBeatFrame(data);
      parsedGate.offer(
        r.ok
          ? { frame: r.message, termHeader: e.term, receivedAt: clock.now() }
          : { error: r.error.message, termHeader: e.term, receivedAt: clock.now() },
      );
    }
    expect(a.verdicts).toEqual(b.verdicts);
  }
  clock.advance(1000); // held frames settle
  expect(a.verdicts).toEqual(b.verdicts);
  matched += bytesGate.templateHits.matched;
  bytesGate.stop();
  parsedGate.stop();
}

describe('sdk frame template - the expected bytes take a short path to the same verdict', () => {
  it(
    'frame template - for any frames, mutations, leases and maps: ' + 'the verdicts of a full parse, frame for frame',
    () => {
      fc.assert(fc.property(fc.array(event, { maxLength: 50 }), run), { numRuns: 400 });
      // Not vacuous: many frames took the short path.
      expect(matched).toBeGreaterThan(100);
    },
  );

  it('frame template - the leader frame stream takes the short path after the first frame', () => {
    const clock = new FakeClock(T0 + 1);
    const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    const gate = new FrameGate(CLUSTER, clock, { aheadMs: 50 });
    const r = new Recorder();
    gate.listeners.add(r);
    gate.setMap(map);
    for (let i = 0; i < 30; i++) {
      const s = slot(map, Math.floor(i / 3), i % 3);
      clock.advanceTo(s.phaseStart + 1);
      gate.offerBytes(
        pulseBytes(map, s.beatIndex, s.phaseIndex, `${clock.wallNow().toString(16)}:0000:abcd`),
        '1',
        clock.now(),
      );
    }
    expect(gate.templateHits).toEqual({ matched: 29, offered: 30 });
    const accepted = r.verdicts.filter((v) => typeof v === 'object' && v !== null && 'accept' in v);
    expect(accepted).toHaveLength(30);
    // Each accepted frame is its own object, equal to what JSON.parse gives.
    const last = accepted.at(-1) as { accept: object };
    expect(last.accept).toEqual(
      JSON.parse(new TextDecoder().decode(pulseBytes(map, 9, 2, (last.accept as { hlc: string }).hlc))),
    );
  });
});
