/**
 * Retrying a JetStream set-up call that failed for a passing reason. On a NATS cluster a
 * stream or bucket that elects a leader after a node loss answers "no responders" or times
 * out for a few seconds (4 to 9 s measured on nats-server 2.9), and two services creating
 * the same replicated stream at once can time out: a service starting at that moment waits
 * and tries again instead of exiting. So does a create that the meta leader refuses because a
 * peer is offline ("no suitable peers for placement, peer offline": right after the cluster
 * started, before it heard every peer's report, or while a node restarts); a count the cluster
 * cannot hold at all is refused without "peer offline" and is not retried.
 */
import { systemClock, silentLogger, type Clock, type Logger } from '@backbeat/core';
import { NoRespondersError, NotConnectedError, TimeoutError } from './errors.js';

/** Options of {@link retryTransient}. */
export interface RetryOptions {
  /** What is being done, for the log line. */
  readonly what: string;
  /** Give up (rethrow the last error) after this long. @default 60000 */
  readonly forMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** True for errors that a retry can cure: a timeout, no responders, a dropped connection, a peer offline. */
export function isTransientError(err: unknown): boolean {
  if (err instanceof TimeoutError || err instanceof NoRespondersError || err instanceof NotConnectedError) return true;
  return err instanceof Error && /no suitable peers for placement, peer offline/.test(err.message);
}

/**
 * Runs `fn`; on a transient error waits (250 ms, doubling to 5 s) and runs it again, for at
 * most `forMs`. Logs one line at the first retry. Other errors are thrown at once.
 * @throws the last error after `forMs`, or any error that is not transient
 */
export async function retryTransient<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger;
  const until = clock.now() + (options.forMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = Math.min(5000, 250 * 2 ** (attempt - 1));
      if (!isTransientError(err) || clock.now() + wait > until) throw err;
      if (attempt === 1)
        log.warn(
          { err: (err as Error).message, retry_in_ms: wait },
          `${options.what} failed for a passing reason; retrying`,
        );
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
    }
  }
}
