import { describe, expect, it } from 'vitest';
import { createTempoMap, FakeClock, timeOf, type TempoMap } from '@backbeat/core';
import { BeatBudgetExceededError } from '@backbeat/sdk';
import { runWithBudget } from '@backbeat/sdk/internal';

const T0 = 1_700_000_000_000;

describe('sdk budget - beat budgets on FakeClock (REQ-042)', () => {
  it('budget - aborts exactly when beat start + n begins, and a tempo change moves the deadline', async () => {
    const clock = new FakeClock(T0);
    let map: TempoMap = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    const listeners = new Set<() => void>();
    let abortedAt: number | undefined;
    const run = runWithBudget(
      clock,
      () => map,
      (l) => (listeners.add(l), () => listeners.delete(l)),
      0,
      4,
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => ((abortedAt = clock.now()), reject(signal.reason))),
        ),
    );
    const settled = run.catch((e: unknown) => e);
    // At beat 2 the tempo doubles from beat 3 on: beat 4 now starts earlier.
    clock.advanceTo(timeOf(map, 2, 0));
    map = { ...map, segments: [...map.segments, { startBeat: 3, startTime: timeOf(map, 3, 0), tempoBpm: 240 }] };
    for (const l of listeners) l();
    clock.advanceTo(T0 + 10_000);
    const err = await settled;
    expect(err).toBeInstanceOf(BeatBudgetExceededError);
    expect(abortedAt).toBe(timeOf(map, 4, 0));
    expect(timeOf(map, 4, 0)).toBe(T0 + 3 * 500 + 250);
  });

  it('budget - work done in time resolves and leaves no timer behind', async () => {
    const clock = new FakeClock(T0);
    const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    await expect(
      runWithBudget(
        clock,
        () => map,
        () => () => {},
        0,
        2,
        async () => 'ok',
      ),
    ).resolves.toBe('ok');
    expect(clock.pending).toBe(0);
  });
});
