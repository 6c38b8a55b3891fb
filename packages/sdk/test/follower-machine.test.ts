import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSlots,
  createTempoMap,
  nextDownbeat,
  positionAt,
  slot,
  slotsBetween,
  timeOf,
  type BeatPosition,
  type TempoMap,
} from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatSource, DropReason, Timing } from '@backbeat/sdk';
import {
  cloneFollowerState,
  copyEffect,
  dueAt,
  FollowerEffects,
  initialFollowerState,
  slotToPrepare,
  step,
  type FollowerEffect,
  type FollowerEvent,
  type FollowerState,
} from '@backbeat/sdk/internal';

// The follower machine (docs/spec.md §8 Degradation and grid timing) driven directly: no gate,
// no timer, no clock. The machine updates the state in place and writes its effects into a
// buffer the driver owns, as the shell does. A small driver plays the shell: it keeps the armed instant, wakes the
// machine (late, by any amount), runs deferred turns and settles, and delivers the frames the
// gate would let through (docs/spec.md §7 Election, terms and fencing: on the client's map, no
// more than the tolerance ahead of their slot, before their deadline), in any order, duplicated,
// delayed or lost, with tempo changes at downbeats.

const T0 = 1_700_000_000_000;

/** A cheap assertion for the hot loop (vitest's expect costs microseconds a call). */
function ok(cond: boolean, what: string, ...values: unknown[]): asserts cond {
  if (!cond) throw new Error(`${what}: ${JSON.stringify(values)}`);
}

type Action =
  /** Time passes; the armed timer wakes `late` ms after its instant (timer lateness). */
  | { kind: 'advance'; ms: number; late: number }
  /** The process stalls: nothing runs for `ms`, then the timer wakes. */
  | { kind: 'stall'; ms: number }
  /** A frame for the slot `shift` slots from the one that held now - `delay` (if the gate lets it in). */
  | { kind: 'frame'; delay: number; shift: number; offsetMs: number; samples: number }
  /** The last frame again (a duplicate, or a failover's new leader re-sending its first slot). */
  | { kind: 'again' }
  | { kind: 'drop'; reason: DropReason; detail: string }
  /** A tempo change at the next downbeat (docs/spec.md §5 The beat grid and the tempo map). */
  | { kind: 'tempo'; bpm: number }
  /** The question asked shortly before a grid instant: which slot's frame to build. */
  | { kind: 'prepare' }
  /** A settle from another client's batch (idempotent). */
  | { kind: 'settle' }
  /** A timer event nobody armed (a cancelled timer's late call): the machine must check due-ness itself. */
  | { kind: 'spurious'; event: 'wake' | 'due' };

const REASONS: DropReason[] = ['invalid', 'malformed', 'other_cluster', 'old_term', 'bad_term', 'off_grid', 'stale'];

function actions(opts: { late: number; stalls: boolean; early: boolean }): fc.Arbitrary<Action[]> {
  const action: fc.Arbitrary<Action> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 0, max: 600 }),
        late: fc.integer({ min: 0, max: opts.late }),
      }),
    },
    {
      weight: opts.stalls ? 1 : 0,
      arbitrary: fc.record({ kind: fc.constant('stall' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('frame' as const),
        delay: fc.integer({ min: opts.early ? -60 : 0, max: 300 }),
        shift: fc.integer({ min: opts.early ? -3 : 0, max: opts.early ? 1 : 0 }),
        offsetMs: fc.oneof(fc.constant(0), fc.integer({ min: -60, max: 200 })),
        samples: fc.integer({ min: 0, max: 32 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('again' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('drop' as const),
        reason: fc.constantFrom(...REASONS),
        detail: fc.constantFrom('', 'why'),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('tempo' as const), bpm: fc.integer({ min: 30, max: 300 }) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('prepare' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('settle' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('spurious' as const),
        event: fc.constantFrom<'wake' | 'due'>('wake', 'due'),
      }),
    },
  );
  return fc.array(action, { maxLength: 80 });
}

interface Fire {
  readonly pos: BeatPosition;
  readonly source: BeatSource;
  readonly at: number;
  readonly timing: Timing;
}

/** The effects of the last step, as values of their own. */
function effectsOf(fx: FollowerEffects): FollowerEffect[] {
  const out: FollowerEffect[] = [];
  for (let i = 0; i < fx.length; i++) out.push(copyEffect(fx.at(i)));
  return out;
}

/** The shell, simulated: the armed instant, deferred turns and pending settles. */
class Driver {
  readonly state: FollowerState;
  readonly fx = new FollowerEffects();
  /** A twin of the machine (its own state and buffer) fed the same events: it must agree at every step. */
  twin: { readonly state: FollowerState; readonly fx: FollowerEffects } | undefined;
  twinSteps = 0;
  now: number;
  map: TempoMap;
  timerAt: number | null = null;
  deferred = false;
  pendingSettle = false;
  lastFrame: { frame: BeatFrame; pos: BeatPosition } | undefined;
  /** The last frame offered passed the gate. */
  delivered = false;
  readonly fires: Fire[] = [];
  skipped = 0;
  confirmed = 0;

  constructor(
    readonly timing: Timing,
    readonly tolerance: number,
    canDefer: boolean,
    start: number,
  ) {
    this.state = initialFollowerState({ toleranceMs: tolerance, timing, maxClockOffsetMs: 20, canDefer });
    this.now = start;
    this.map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
  }

  send(event: FollowerEvent, now = this.now): void {
    const timingBefore = this.state.timing;
    this.fx.truncate(0);
    step(this.state, event, now, this.fx);
    const effects = effectsOf(this.fx);
    ok(effects.filter((e) => e.kind === 'fire').length <= 1, 'one step fired two slots (a burst)', event);
    const twin = this.twin;
    if (twin) {
      // Determinism: the same state and events give the same state and effects, nothing else is read.
      twin.fx.truncate(0);
      step(twin.state, event, now, twin.fx);
      expect(effectsOf(twin.fx)).toEqual(effects);
      expect(twin.state).toEqual(this.state);
      this.twinSteps++;
    }
    for (const e of effects) {
      if (e.kind === 'arm') [this.timerAt, this.deferred] = [e.at, false];
      else if (e.kind === 'disarm') [this.timerAt, this.deferred] = [null, false];
      else if (e.kind === 'defer') [this.timerAt, this.deferred] = [null, true];
      else if (e.kind === 'settle-after-batch') this.pendingSettle = true;
      else if (e.kind === 'skipped') this.skipped += e.slots;
      else if (e.kind === 'confirmed') this.confirmed++;
      else if (e.kind === 'fire')
        this.#check({ pos: e.pos, source: e.source, at: e.receivedAt, timing: timingBefore }, e.frame);
    }
  }

  /** Each fire: after the last one, on the map in force, and due (a frame only within the gate's window). */
  #check(f: Fire, frame: BeatFrame | null): void {
    const prev = this.fires.at(-1);
    ok(!prev || compareSlots(f.pos, prev.pos) > 0, 'a slot twice or backwards', prev?.pos, f.pos);
    const s = slot(this.map, f.pos.beatIndex, f.pos.phaseIndex);
    ok(
      f.pos.phaseStart === s.phaseStart && f.pos.phaseEnd === s.phaseEnd && f.pos.tempoBpm === s.tempoBpm,
      'off the map',
      f.pos,
      s,
    );
    ok(f.at === this.now, 'fired at another time than now', f.at, this.now);
    if (f.source === 'leader') {
      ok(frame !== null, 'a leader fire without its frame');
      ok(f.at >= s.phaseStart - this.tolerance && f.at <= s.phaseEnd, 'a leader slot outside the gate window', f, s);
    } else {
      ok(frame === null, 'a local fire with a frame');
      ok(f.source === (f.timing === 'grid' ? 'grid' : 'local'), 'source and timing disagree', f);
      // The slot that holds now, and due: never a stale one, never early.
      ok(
        compareSlots(positionAt(this.map, f.at)!, f.pos) === 0,
        'not the slot holding now',
        f,
        positionAt(this.map, f.at),
      );
      ok(f.at >= dueAt({ config: this.state.config, timing: f.timing }, f.pos), 'fired before due', f);
      ok(f.at < s.phaseEnd, 'a stale slot', f, s);
    }
    this.fires.push(f);
  }

  /** Lets time run to `until`, waking the machine as the shell would (bounded). */
  runTo(until: number, late: number): void {
    for (let i = 0; i < 100_000; i++) {
      if (this.pendingSettle) {
        this.pendingSettle = false;
        this.send({ kind: 'settle' });
        continue;
      }
      if (this.deferred) {
        this.deferred = false;
        this.send({ kind: 'due' });
        continue;
      }
      const at = this.timerAt;
      if (at === null || at > until) break;
      this.now = Math.max(this.now, at + late);
      this.timerAt = null;
      this.send({ kind: 'wake' });
    }
    this.now = Math.max(this.now, until);
  }

  act(a: Action): void {
    switch (a.kind) {
      case 'advance':
        return this.runTo(this.now + a.ms, a.late);
      case 'stall':
        this.now += a.ms;
        return this.runTo(this.now, 0);
      case 'frame': {
        const held = positionAt(this.map, this.now - a.delay);
        if (!held) return;
        let pos = held;
        for (let k = 0; k < -a.shift && (pos.beatIndex > 0 || pos.phaseIndex > 0); k++) pos = previous(this.map, pos);
        for (let k = 0; k < a.shift; k++) pos = slot(this.map, ...nextKey(this.map, pos));
        return this.#deliver(pos, { offsetMs: a.offsetMs, samples: a.samples });
      }
      case 'again':
        if (this.lastFrame) this.#deliver(this.lastFrame.pos, { offsetMs: 0, samples: 0 });
        return;
      case 'drop':
        return this.send({ kind: 'drop', reason: a.reason, detail: a.detail, log: true });
      case 'tempo': {
        const cur = positionAt(this.map, this.now);
        const last = this.map.segments.at(-1)!;
        const at = nextDownbeat(Math.max(cur?.beatIndex ?? 0, last.startBeat), this.map.barLength);
        const segment = { startBeat: at, startTime: timeOf(this.map, at), tempoBpm: a.bpm };
        this.map = { ...this.map, segments: [...this.map.segments, segment] };
        return this.send({ kind: 'map', map: this.map });
      }
      case 'prepare': {
        const pos = slotToPrepare(this.state);
        if (!pos) return;
        // Only the armed slot, the one after the last fired, in grid timing, on the map in force.
        ok(this.state.timing === 'grid' && pos.phaseStart === this.timerAt, 'prepared a slot not armed', pos);
        ok(!!this.state.last && slotsBetween(this.map, this.state.last, pos) === 0, 'prepared a slot not next', pos);
        ok(compareSlots(slot(this.map, pos.beatIndex, pos.phaseIndex), pos) === 0, 'prepared off the map', pos);
        return;
      }
      case 'settle':
        return this.send({ kind: 'settle' });
      case 'spurious':
        return this.send({ kind: a.event });
    }
  }

  /** What the gate lets through: a slot of the map, at most the tolerance ahead, before its deadline. */
  #deliver(pos: BeatPosition, offset: { offsetMs: number; samples: number }): void {
    const s = slot(this.map, pos.beatIndex, pos.phaseIndex);
    this.delivered = false;
    if (s.phaseStart - this.now > this.tolerance || this.now > s.phaseEnd) {
      return this.send({
        kind: 'drop',
        reason: this.now > s.phaseEnd ? 'stale' : 'off_grid',
        detail: 'gate',
        log: true,
      });
    }
    this.delivered = true;
    const frame = { beat_index: s.beatIndex, phase: s.phase, hlc: '7ffd:0001:abcd' } as BeatFrame;
    this.lastFrame = { frame, pos: s };
    this.send({ kind: 'frame', frame, pos: s, receivedAt: this.now, offset });
    this.send({ kind: 'settle' }); // the gate settles every listener after the batch
  }
}

function nextKey(map: TempoMap, pos: BeatPosition): [number, number] {
  return pos.phaseIndex + 1 < map.phases.length ? [pos.beatIndex, pos.phaseIndex + 1] : [pos.beatIndex + 1, 0];
}

function previous(map: TempoMap, pos: BeatPosition): BeatPosition {
  return pos.phaseIndex > 0
    ? slot(map, pos.beatIndex, pos.phaseIndex - 1)
    : slot(map, pos.beatIndex - 1, map.phases.length - 1);
}

const setup = fc.record({
  timing: fc.constantFrom<Timing>('frames', 'grid'),
  tolerance: fc.integer({ min: 1, max: 120 }),
  canDefer: fc.boolean(),
  start: fc.integer({ min: T0 - 500, max: T0 + 3000 }),
  mapFirst: fc.boolean(),
});

function begin(c: { timing: Timing; tolerance: number; canDefer: boolean; start: number; mapFirst: boolean }): Driver {
  const d = new Driver(c.timing, c.tolerance, c.canDefer, c.start);
  if (c.mapFirst) d.send({ kind: 'map', map: d.map });
  d.send({ kind: 'start' });
  if (!c.mapFirst) d.send({ kind: 'map', map: d.map });
  return d;
}

describe('sdk follower machine - properties (fast-check, no clock, no timer)', () => {
  it(
    'machine - frames in any order, duplicated, delayed or lost, tempo changes, late timers, stalls: ' +
      'no slot twice, nothing backwards, only due slots on the true grid',
    () => {
      let fired = 0;
      fc.assert(
        fc.property(setup, actions({ late: 400, stalls: true, early: true }), (c, acts) => {
          const d = begin(c);
          for (const a of acts) d.act(a);
          d.runTo(d.now + 1000, 0);
          d.send({ kind: 'settle' });
          // Catch-up is bounded and counted: every slot between two fires was skipped and counted once.
          let gaps = 0;
          for (let i = 1; i < d.fires.length; i++) gaps += slotsBetween(d.map, d.fires[i - 1]!.pos, d.fires[i]!.pos);
          expect(d.skipped).toBe(gaps);
          // The grid held for the fired slots is the final map's: tempo changes only move the future.
          for (const f of d.fires)
            expect(slot(d.map, f.pos.beatIndex, f.pos.phaseIndex).phaseStart).toBe(f.pos.phaseStart);
          fired += d.fires.length;
        }),
        { numRuns: 400 },
      );
      expect(fired).toBeGreaterThan(2000); // not vacuous
    },
  );

  it(
    'machine - timers on time, frames never early: every slot fires once, in order, whatever frames are lost ' +
      'or late (a failover gap is filled slot by slot)',
    () => {
      fc.assert(
        fc.property(setup, actions({ late: 0, stalls: false, early: false }), (c, acts) => {
          const d = begin(c);
          for (const a of acts) d.act(a);
          d.runTo(d.now + 1000, 0);
          expect(d.skipped).toBe(0);
          for (let i = 1; i < d.fires.length; i++)
            ok(slotsBetween(d.map, d.fires[i - 1]!.pos, d.fires[i]!.pos) === 0, 'a gap', i);
          // Nothing left behind: the last slot fired is the one holding now (or the one before it, not yet due).
          const cur = positionAt(d.map, d.now);
          const last = d.fires.at(-1);
          if (cur && last) expect(slotsBetween(d.map, last.pos, cur)).toBe(0);
        }),
        { numRuns: 300 },
      );
    },
  );

  it('machine - degraded after a local slot, not after a leader frame; a frame confirms a grid slot once', () => {
    fc.assert(
      fc.property(setup, actions({ late: 50, stalls: true, early: true }), (c, acts) => {
        const d = begin(c);
        for (const a of acts) {
          d.act(a);
          const last = d.fires.at(-1);
          if (a.kind === 'advance' && last?.source === 'local' && last.at === d.now)
            expect(d.state.degraded).toBe(true);
          if ((a.kind === 'frame' || a.kind === 'again') && d.delivered) expect(d.state.degraded).toBe(false);
        }
        expect(d.confirmed).toBeLessThanOrEqual(d.fires.filter((f) => f.source === 'grid').length);
      }),
      { numRuns: 200 },
    );
  });

  it(
    'machine - deterministic: a cloned twin fed the same events reaches the same state and effects at every ' +
      'step (the step reads nothing else, the clone shares nothing mutable); a stopped machine fires nothing',
    () => {
      let compared = 0;
      fc.assert(
        fc.property(setup, actions({ late: 100, stalls: true, early: true }), (c, acts) => {
          const d = begin(c);
          const third = Math.floor(acts.length / 3);
          for (const a of acts.slice(0, third)) d.act(a);
          d.twin = { state: cloneFollowerState(d.state), fx: new FollowerEffects() };
          for (const a of acts.slice(third, 2 * third)) d.act(a);
          d.send({ kind: 'stop' });
          expect(d.state.timer).toBeNull();
          const n = d.fires.length;
          for (const a of acts.slice(2 * third)) d.act(a);
          d.runTo(d.now + 5000, 0);
          expect(d.fires.length).toBe(n);
          compared += d.twinSteps;
        }),
        { numRuns: 300 },
      );
      expect(compared).toBeGreaterThan(1000); // not vacuous
    },
  );
});
