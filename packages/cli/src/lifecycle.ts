/**
 * Runs a long-lived service until SIGINT or SIGTERM, then stops it within a deadline.
 * A second signal, or a stop that overruns, exits at once.
 */

/** Waits for SIGINT/SIGTERM, calls `stop`, and sets the exit code. */
export function runUntilSignal(
  stop: () => Promise<void>,
  log: (msg: string) => void,
  deadlineMs = 1800,
): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      log(`${sig} received: shutting down`);
      const force = setTimeout(() => {
        log('shutdown overran its deadline: exiting');
        process.exit(1);
      }, deadlineMs);
      force.unref();
      stop()
        .catch((err: unknown) => log(`error while stopping: ${(err as Error).message}`))
        .finally(() => {
          clearTimeout(force);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
