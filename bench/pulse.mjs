#!/usr/bin/env node
// @ts-check
// npm run bench:pulse: emitters at 120 BPM on a real nats-server, one after the other, each for
// BENCH_SECONDS (default 60), idle and with their main thread blocked 5 ms every 50 ms (load):
//   - pulse: the Pulse with its emitter thread (schedule and publish in a worker with its own
//     NATS connection; the main thread keeps KV, HTTP, metrics, logs);
//   - spin: the plain sleep-then-spin emitter (setTimeout to 2 ms before the slot, then
//     setImmediate until due), the baseline the pulse must at least match;
//   - setInterval: the naive ticker (idle only).
// Each emitter runs in its own process; one subscriber process records delivery.
// BENCH_BEAT_FENCING=sender|server picks the pulse's --beat-fencing (default: server, through the beat stream).
// Prints jitter (publish time - slot time), delivery (subscriber receive time - slot time),
// frames sent early (must be 0), CPU, and writes the JSON summary to BENCH_JSON when set.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NatsServer } from '@backbeat/testing';
import { BPM } from './pulse/common.mjs';
import { pulseChild, spinChild, tickerChild } from './pulse/emitters.mjs';
import { reportPulseBench } from './pulse/report.mjs';
import { subscriberChild } from './pulse/subscriber.mjs';

const role = process.argv[2];
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
/** @typedef {import('./pulse/common.mjs').ChildReport} ChildReport */

const self = fileURLToPath(import.meta.url);
/**
 * Asks a child to stop and resolves with its report.
 * @param {import('node:child_process').ChildProcess} child
 * @returns {Promise<any>}
 */
const ask = (child) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`bench child ${child.spawnargs.slice(2).join(' ')} did not answer`)),
      20_000,
    );
    child.once('message', (m) => {
      clearTimeout(t);
      resolve(m);
    });
    child.send('stop');
  });

/**
 * Runs one emitter child for `seconds` and returns its report.
 * @param {string} url
 * @param {string} childRole
 * @param {boolean} load
 * @returns {Promise<ChildReport>}
 */
async function run(url, childRole, load) {
  const child = fork(self, [childRole, url, load ? 'load' : 'idle']);
  await new Promise((r) => child.once('message', r));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ask(child);
}

if (role === 'pulse') await pulseChild(process.argv[3], process.argv[4] === 'load');
else if (role === 'spin') await spinChild(process.argv[3], process.argv[4] === 'load');
else if (role === 'ticker') await tickerChild(process.argv[3]);
else if (role === 'subscriber') await subscriberChild(process.argv[3]);
else {
  const server = await NatsServer.start();
  const sub = fork(self, ['subscriber', server.url]);
  await new Promise((r) => sub.once('message', r));
  console.log(
    `emitters at ${BPM} BPM, ${seconds} s each, on nats-server ${server.url}: ` +
      'pulse and spin idle and loaded (main thread blocked 5 ms every 50 ms), setInterval idle...',
  );
  /** @type {Record<string, ChildReport>} */
  const runs = {};
  /** @type {Array<[string, string, boolean]>} */
  const plan = [
    ['pulse', 'pulse', false],
    ['pulse_loaded', 'pulse', true],
    ['spin', 'spin', false],
    ['spin_loaded', 'spin', true],
    ['setInterval', 'ticker', false],
  ];
  for (const [name, childRole, load] of plan) {
    runs[name] = await run(server.url, childRole, load);
    console.log(`  ${name}: ${runs[name].jitter.length} frames`);
  }
  /** @type {Record<string, number[] | undefined>} */
  const delivered = await ask(sub);
  await server.stop();
  reportPulseBench(seconds, runs, delivered);
}
