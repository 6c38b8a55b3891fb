/**
 * What happens to the follower machine in follower-machine.test.ts, as fast-check actions: time
 * passing with late timers, stalls, frames of any slot (duplicated, delayed, lost), drops, tempo
 * changes at downbeats, prepares, settles and spurious timer events.
 */
import fc from 'fast-check';
import type { DropReason } from '@backbeat/sdk';

export type Action =
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

export const REASONS: DropReason[] = [
  'invalid',
  'malformed',
  'other_cluster',
  'old_term',
  'bad_term',
  'off_grid',
  'stale',
];

export function actions(opts: { late: number; stalls: boolean; early: boolean }): fc.Arbitrary<Action[]> {
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
