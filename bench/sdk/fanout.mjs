// @ts-check
// The parent's side of a fan-out variant of bench/sdk.mjs: forks the children, starts and
// stops the measured window, and sums what they report.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { slot, slotAtOrAfter } from '@backbeat/core';
import { summary } from '../lib.mjs';
import { PER_PROCESS, PROCESSES, READY_TIMEOUT_MS, TOLERANCE_MS, now, sleep } from './common.mjs';

/** @typedef {import('./common.mjs').TempoMap} TempoMap */
/** @typedef {import('./common.mjs').ChildProcess} ChildProcess */
/** @typedef {import('./common.mjs').ChildResult} ChildResult */
/** @typedef {import('./common.mjs').FanoutContext} FanoutContext */

const CHILD = fileURLToPath(new URL('./fanout-child.mjs', import.meta.url));

/**
 * The next message of `child` matching `pred`, or an error on exit or after `ms`.
 * @param {ChildProcess} child
 * @param {(m: any) => boolean} pred
 * @param {number} ms
 * @returns {Promise<any>}
 */
function nextMessage(child, pred, ms) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return reject(new Error(`fan-out child ${child.pid} is gone (${child.exitCode ?? child.signalCode})`));
    /**
     * @param {(v: any) => void} fn
     * @param {unknown} v
     */
    const done = (fn, v) => (clearTimeout(timer), child.off('message', onMsg), child.off('exit', onExit), fn(v));
    /** @param {unknown} m */
    const onMsg = (m) => pred(m) && done(resolve, m);
    /** @param {number | null} code */
    const onExit = (code) => done(reject, new Error(`fan-out child ${child.pid} exited (${code}) early`));
    const timer = setTimeout(() => done(reject, new Error(`fan-out child ${child.pid}: no answer in ${ms} ms`)), ms);
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/**
 * Sends `msg` to a child. @throws Error when the child is gone
 * @param {ChildProcess} child
 * @param {unknown} msg
 */
function tell(child, msg) {
  if (!child.connected) throw new Error(`fan-out child ${child.pid} is gone (${child.exitCode ?? child.signalCode})`);
  child.send(/** @type {import('node:child_process').Serializable} */ (msg));
}

/**
 * Counts the grid slots scheduled in [from, to) and the key of the first.
 * @param {TempoMap} map
 * @param {number} from
 * @param {number} to
 */
function slotsIn(map, from, to) {
  const first = slotAtOrAfter(map, from);
  let n = 0;
  for (let s = first; s.phaseStart < to; n++)
    s = s.phaseIndex + 1 < map.phases.length ? slot(map, s.beatIndex, s.phaseIndex + 1) : slot(map, s.beatIndex + 1, 0);
  return { firstKey: first.beatIndex * map.phases.length + first.phaseIndex, expected: n };
}

/**
 * One fan-out variant: `processes` children x `perProcess` followers, measured for `seconds`.
 * @param {FanoutContext} ctx
 * @param {string} mode
 * @param {number} seconds
 */
export async function fanout(ctx, mode, seconds, processes = PROCESSES, perProcess = PER_PROCESS) {
  const t0 = now();
  const kids = Array.from({ length: processes }, () =>
    fork(
      CHILD,
      [ctx.url, ctx.cluster, mode === 'grid10k' ? 'grid' : mode, String(perProcess), JSON.stringify(ctx.map)],
      { serialization: 'advanced' },
    ),
  );
  ctx.children.push(...kids);
  for (const k of kids) k.on('error', (err) => console.error(`fan-out child ${k.pid}: ${err.message}`));
  /** @type {Array<{ rssMb: number }>} */
  const ready = await Promise.all(kids.map((k) => nextMessage(k, (m) => m.ready, READY_TIMEOUT_MS)));
  const startupS = (now() - t0) / 1000;
  // Measure whole slots from half a phase after now + 500 ms; stop after the last one's tolerance.
  const phaseMs = 60_000 / ctx.bpm / ctx.map.phases.length;
  const from = slotAtOrAfter(ctx.map, now() + 500).phaseStart - phaseMs / 2;
  const to = from + seconds * 1000;
  for (const k of kids) tell(k, { go: { from, to } });
  await sleep(to + TOLERANCE_MS + 250 - now());
  const { firstKey, expected } = slotsIn(ctx.map, from, to);
  /** @type {ChildResult[]} */
  const res = await Promise.all(
    kids.map((k) => (tell(k, { stop: true, firstKey, expected }), nextMessage(k, (m) => 'missed' in m, 30_000))),
  );
  /** @param {(r: ChildResult) => Float64Array} f */
  const cat = (f) => res.flatMap((r) => Array.from(f(r)));
  /** @param {(r: ChildResult) => number} f */
  const sum = (f) => res.reduce((a, r) => a + f(r), 0);
  return {
    mode,
    seconds,
    startup_s: Math.round(startupS * 10) / 10,
    rss_mb_per_process: Math.round(Math.max(...ready.map((r) => r.rssMb))),
    // CPU of a child from 'go' to 'stop' (the measured window, plus the tolerance), per second of it.
    cpu_ms_per_s_per_process:
      Math.round((Math.max(...res.map((r) => r.cpuMs)) / (to + TOLERANCE_MS + 250 - from)) * 1000 * 10) / 10,
    clients: sum((r) => r.clients),
    expected_per_client: expected,
    fired_leader: sum((r) => r.leader),
    fired_local: sum((r) => r.local),
    fired_grid: sum((r) => r.grid),
    processes,
    duplicates: sum((r) => r.dup),
    missed: sum((r) => r.missed),
    delivery_ms: summary(cat((r) => r.delivery)),
    callback_ms: summary(cat((r) => r.callback)),
  };
}
