/**
 * The shell of the follower machine, simulated for follower-machine.test.ts (docs/spec.md §8
 * Degradation and grid timing): it keeps the armed instant, wakes the machine (late, by any
 * amount), runs deferred turns and settles, and delivers the frames the gate would let through.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
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
import type { BeatSource, Timing } from '@backbeat/sdk';
import {
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
import type { Action } from './follower-machine-actions.js';

export const T0 = 1_700_000_000_000;

/** A cheap assertion for the hot loop (vitest's expect costs microseconds a call). */
export function ok(cond: boolean, what: string, ...values: unknown[]): asserts cond {
  if (!cond) throw new Error(`${what}: ${JSON.stringify(values)}`);
}

export interface Fire {
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
export class Driver {
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

export const setup = fc.record({
  timing: fc.constantFrom<Timing>('frames', 'grid'),
  tolerance: fc.integer({ min: 1, max: 120 }),
  canDefer: fc.boolean(),
  start: fc.integer({ min: T0 - 500, max: T0 + 3000 }),
  mapFirst: fc.boolean(),
});

export function begin(c: {
  timing: Timing;
  tolerance: number;
  canDefer: boolean;
  start: number;
  mapFirst: boolean;
}): Driver {
  const d = new Driver(c.timing, c.tolerance, c.canDefer, c.start);
  if (c.mapFirst) d.send({ kind: 'map', map: d.map });
  d.send({ kind: 'start' });
  if (!c.mapFirst) d.send({ kind: 'map', map: d.map });
  return d;
}
