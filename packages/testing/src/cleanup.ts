/**
 * Last-resort cleanup: whatever a test started and did not stop (because it failed or was
 * interrupted) is killed when the test process exits, so no test leaves an orphan.
 */
const killers = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const kill of killers) {
    try {
      kill();
    } catch {
      /* the process may already be gone */
    }
  }
  killers.clear();
}

/**
 * Registers a synchronous kill function, run when this process exits (normally, or on SIGINT
 * or SIGTERM). Returns the function that unregisters it, to call once the child is stopped.
 */
export function onProcessExit(kill: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', runAll);
    for (const [sig, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(sig, () => {
        runAll();
        process.exit(code);
      });
    }
  }
  killers.add(kill);
  return () => {
    killers.delete(kill);
  };
}
