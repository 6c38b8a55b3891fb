import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { positionAt, slot, slotsBetween } from '@backbeat/core';
import { cloneFollowerState, FollowerEffects } from '@backbeat/sdk/internal';
import { actions } from './follower-machine-actions.js';
import { begin, ok, setup } from './follower-machine-driver.js';

// The follower machine (docs/spec.md §8 Degradation and grid timing) driven directly: no gate,
// no timer, no clock. The machine updates the state in place and writes its effects into a
// buffer the driver owns, as the shell does. A small driver plays the shell: it keeps the armed instant, wakes the
// machine (late, by any amount), runs deferred turns and settles, and delivers the frames the
// gate would let through (docs/spec.md §7 Election, terms and fencing: on the client's map, no
// more than the tolerance ahead of their slot, before their deadline), in any order, duplicated,
// delayed or lost, with tempo changes at downbeats.

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
