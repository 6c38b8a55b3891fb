#!/usr/bin/env node
// @ts-check
// npm run bench:dashboard: the dashboard under abuse (docs/spec.md §10 Security), on a real
// nats-server on 127.0.0.1 and `backbeat dev --nats` in its own process:
// 1. A hostile agent login publishes dead letters with 60 KB `x-agent-id` headers (the
//    dashboard shows every dead letter), BENCH_LETTERS of them (default 600).
// 2. `/live` latency with nobody else asking (the baseline), then with three hostile pollers
//    asking `/api/v1/updates?after=0` back to back (in their own process, so reading their
//    answers does not delay this one's); also the bytes each poll answered and the dev
//    process's resident memory.
// 3. Twenty `/api/v1/events` clients that never read while another BENCH_LETTERS such dead
//    letters arrive: the dev process's resident memory before and after.
// Env: BENCH_LETTERS, BENCH_LIVE_SAMPLES (default 500), BENCH_JSON=file writes the summary too,
// BACKBEAT_ROOT=dir runs the `backbeat` of another checkout (to measure a baseline build).
import { fork, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { NatsServer } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';
import { printTable, summary } from './lib.mjs';

const LETTERS = Number(process.env.BENCH_LETTERS ?? 600);
const SAMPLES = Number(process.env.BENCH_LIVE_SAMPLES ?? 500);
const root = process.env.BACKBEAT_ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const bin = `${root.replace(/\/$/, '')}/packages/cli/bin/backbeat.js`;
/** @param {number} ms @returns {Promise<void>} */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `/live` latencies (ms) of `n` requests, one every 5 ms.
 * @param {string} base
 * @param {number} n
 */
async function liveLatencies(base, n) {
  /** @type {number[]} */
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/live`);
    await r.arrayBuffer();
    out.push(performance.now() - t0);
    await sleep(5);
  }
  return out;
}

/**
 * Resident memory of a process, MB (Linux).
 * @param {number | undefined} pid
 */
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

// The hostile pollers' process: polls until told to stop, then reports the bytes of each answer.
if (process.argv[2] === 'pollers') {
  const base = process.argv[3];
  let stop = false;
  /** @type {number[]} */
  const bytes = [];
  process.on('message', () => (stop = true));
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      while (!stop) bytes.push((await (await fetch(`${base}/api/v1/updates?after=0`)).arrayBuffer()).byteLength);
    }),
  );
  process.send?.(bytes, () => process.exit(0));
  await new Promise(() => {});
}

const server = await NatsServer.start();
const dev = spawn(process.execPath, [bin, 'dev', '--nats', server.url, '--port', '0', '--agents', '6'], {
  env: { ...process.env, BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const base = await new Promise((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => reject(new Error('backbeat dev did not start in 40 s')), 40_000);
    dev.stdout.on('data', (c) => {
      text += c;
      const m = /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(text);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
  });
  dev.stdout.resume();
  const bus = await NatsBus.connect({ servers: server.url });
  await sleep(3000); // the first bars
  const idle = await liveLatencies(base, SAMPLES);
  const rssBefore = rssMb(dev.pid);

  const agentId = `agent:${'x'.repeat(60 * 1024)}`;
  const letters = async () => {
    for (let i = 0; i < LETTERS; i++) {
      bus.publish(subjects('dev').dlq, new TextEncoder().encode(`{"agent_id":"a${i}"}`), {
        headers: { 'x-reason': 'forged', 'x-error': 'e', 'x-agent-id': agentId },
      });
      if (i % 50 === 49) await bus.flush();
    }
    await bus.flush();
    await sleep(1000);
  };
  await letters();

  const pollers = fork(fileURLToPath(import.meta.url), ['pollers', base]);
  const pollBytes = new Promise((resolve) => pollers.once('message', resolve));
  await sleep(500);
  const hostile = await liveLatencies(base, SAMPLES);
  const rssAfter = rssMb(dev.pid);
  pollers.send('stop');
  const bytes = summary(await pollBytes);

  // Twenty live-stream clients that never read, then more hostile letters.
  const port = Number(new URL(base).port);
  const stuck = Array.from({ length: 20 }, () => {
    const sock = connect(port, '127.0.0.1', () =>
      sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`),
    );
    sock.on('error', () => {});
    sock.pause();
    return sock;
  });
  await sleep(500);
  const rssStreamsBefore = rssMb(dev.pid);
  await letters();
  const rssStreamsAfter = rssMb(dev.pid);
  for (const s of stuck) s.destroy();
  await bus.close();

  printTable('/live latency', [
    { name: 'alone', ...summary(idle) },
    { name: '3 hostile pollers', ...summary(hostile) },
  ]);
  console.log(`\npolls of /api/v1/updates?after=0: ${bytes.n}, bytes each p50 ${bytes.p50}, max ${bytes.max}`);
  console.log(
    `backbeat dev RSS: ${rssBefore} MB before the dead letters, ${rssAfter} ` +
      `MB after (${LETTERS} letters of 60 KB headers)`,
  );
  console.log(
    `with 20 event-stream clients that never read: ${rssStreamsBefore} MB, ` +
      `${rssStreamsAfter} MB after ${LETTERS} more letters`,
  );
  const result = {
    letters: LETTERS,
    live_alone: summary(idle),
    live_hostile: summary(hostile),
    poll_bytes: bytes,
    rss_mb: { before: rssBefore, after: rssAfter, streams_before: rssStreamsBefore, streams_after: rssStreamsAfter },
  };
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(result, null, 2));
} finally {
  dev.kill('SIGTERM');
  await new Promise((r) => (dev.exitCode !== null ? r(undefined) : dev.once('exit', r)));
  await server.stop();
}
