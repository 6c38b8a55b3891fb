/**
 * Beat budgets (BACKBEAT-REQ-042): work gets `n` beats; when beat current + n starts on the
 * grid its AbortSignal is aborted and the promise rejects. The deadline is a beat, not a
 * duration: a tempo change during the budget moves it.
 */
import { timeOf, type Clock, type TempoMap, type TimerHandle } from '@backbeat/core';
import { BeatBudgetExceededError } from './errors.js';

/** Runs `fn` under a budget of `beats` beats starting from `startBeat`. */
export function runWithBudget<T>(
  clock: Clock,
  map: () => TempoMap | null,
  onMapChange: (listener: () => void) => () => void,
  startBeat: number,
  beats: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadlineBeat = startBeat + beats;
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: TimerHandle | undefined;
    let done = false;
    const finish = () => {
      done = true;
      if (timer) clock.clearTimeout(timer);
      unlisten();
    };
    const arm = () => {
      if (done) return;
      if (timer) clock.clearTimeout(timer);
      const m = map();
      if (!m) return;
      const at = timeOf(m, deadlineBeat, 0);
      timer = clock.setTimeout(
        () => {
          // Re-check: timers may fire early, and the map may have moved the deadline.
          const now = clock.now();
          const current = map();
          if (current && now < timeOf(current, deadlineBeat, 0)) return arm();
          finish();
          const err = new BeatBudgetExceededError(beats, startBeat, deadlineBeat);
          controller.abort(err);
          reject(err);
        },
        Math.max(0, at - clock.now()),
      );
    };
    const unlisten = onMapChange(arm);
    arm();
    fn(controller.signal).then(
      (value) => {
        if (done) return;
        finish();
        resolve(value);
      },
      (err: unknown) => {
        if (done) return;
        finish();
        reject(err);
      },
    );
  });
}
