/**
 * Last-resort cleanup: whatever a test started and did not stop (because it failed or was
 * interrupted) is killed when the test process exits, so no test leaves an orphan.
 */
const killers = new Set<() => void>();
let installed = false;

/** Registers a synchronous kill function; returns its unregister function. */
export function onProcessExit(kill: () => void): () => void {
  if (!installed) {
    installed = true;
    const runAll = () => {
      for (const k of killers) {
        try {
          k();
        } catch {
          /* the process may already be gone */
        }
      }
      killers.clear();
    };
    process.once('exit', runAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        runAll();
        process.exit(130);
      });
    }
  }
  killers.add(kill);
  return () => killers.delete(kill);
}
