// @ts-check
// What the parts of bench/pulse.mjs share: the tempo, the clock, and the plumbing of an emitter
// child (its report to the parent, the load that blocks its main thread).

export const BPM = 120;
export const PHASE_MS = 60_000 / BPM / 3;
export const now = () => performance.timeOrigin + performance.now();

/**
 * What an emitter child reports: the lateness of each frame it sent and its CPU.
 * @typedef {{ jitter: number[], cpu_pct: number, emitter_pct?: number, emitter_loop_busy_pct?: number,
 *   emitter_cpu_measured?: boolean, where?: string | null }} ChildReport
 */

/**
 * Sends `message` to the parent process (a child is always forked with an IPC channel).
 * @param {unknown} message
 * @param {() => void} [then]
 */
export function toParent(message, then) {
  if (!process.send) throw new Error('bench/pulse.mjs child roles run only as forked children');
  process.send(message, undefined, {}, then);
}

/** Load mode: the main thread is blocked 5 ms every 50 ms. */
export function startLoad() {
  return setInterval(() => {
    const until = performance.now() + 5;
    while (performance.now() < until) {
      // busy: what a GC pause, a big JSON or a slow request does to the event loop
    }
  }, 50);
}

/**
 * Reports {jitter, early, cpu_pct, emitter_pct} to the parent once asked to stop.
 * @param {number[]} jitter
 * @param {() => Promise<void>} cleanup
 * @param {() => Partial<ChildReport>} [extra]
 */
export function reportWhenAsked(jitter, cleanup, extra = () => ({})) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.on('message', async () => {
    const cpu = process.cpuUsage(cpu0);
    const elapsed = performance.now() - t0;
    const x = extra();
    await cleanup();
    toParent({ jitter, cpu_pct: ((cpu.user + cpu.system) / 1000 / elapsed) * 100, ...x }, () => process.exit(0));
  });
  toParent({ ready: true });
}
