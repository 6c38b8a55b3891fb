// @ts-check
// What the parts of bench/sdk.mjs share: the fan-out sizes, the clock and the types.

export const PROCESSES = 4;
export const PER_PROCESS = 250;
export const START_BATCH = 25; // clients started concurrently in a child
export const READY_TIMEOUT_MS = 90_000;
export const TOLERANCE_MS = 50; // the SDK's default jitterToleranceMs
export const now = () => performance.timeOrigin + performance.now();
/** @param {number} ms @returns {Promise<void>} */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @typedef {import('@backbeat/core').TempoMap} TempoMap */
/** @typedef {import('node:child_process').ChildProcess} ChildProcess */
/** Which slots one follower fired in the measured window, and how. */
/** @typedef {{ fired: Set<number>, leader: number, local: number, grid: number, dup: number }} Tally */
/**
 * What a fan-out child reports when stopped.
 * @typedef {{ clients: number, missed: number, leader: number, local: number, grid: number, dup: number, cpuMs: number,
 *   delivery: Float64Array, callback: Float64Array }} ChildResult
 */
/** @typedef {{ url: string, cluster: string, bpm: number, map: TempoMap, children: ChildProcess[] }} FanoutContext */
