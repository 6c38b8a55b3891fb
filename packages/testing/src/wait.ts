/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @default 5000 */
  timeoutMs?: number;
  /** Pause between two polls. @default 10 */
  intervalMs?: number;
  /** What was awaited, for the timeout error ("timed out ... waiting for <message>"). */
  message?: string;
}

/**
 * Polls `predicate` (sync or async) until it returns a truthy value, and returns that value.
 * A predicate that throws counts as "not yet". Tests use this instead of fixed sleeps.
 * @throws Error after `timeoutMs`, naming `message` and the predicate's last error
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why =
        lastError === undefined
          ? ''
          : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.message ?? 'a condition'}${why}`, {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves after `ms` ms. For pacing load loops and benchmarks, never to wait for a condition. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
