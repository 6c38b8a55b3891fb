#!/usr/bin/env node
// @ts-check
// npm run bench:failover: the beat gap after kill -9 of the leading pulse, on a 3-node
// nats-server cluster (the pinned build, R3 lease), in three modes of the standby:
//   poll      (baseline) it polls for the lease every 250 ms and takes it once the server has
//             expired it: no limit markers, no takeover (--lease-markers off --max-clock-offset 600000:
//             a takeover margin of 20 minutes);
//   markers   its watch sees the limit marker of the expiry (--max-clock-offset 600000: a takeover
//             margin of 20 minutes);
//   takeover  (the default) it takes, by compare-and-set, a lease whose holder must have fenced
//             itself (not renewed for TTL − fence margin + 2 x max clock offset + 50 ms), without
//             waiting for the server's expiry.
// The gap is measured on the wire by a raw subscriber: from the last frame of the old term to
// the first frame of the new one; the target is TTL + 150 ms. Frames: 120 BPM, 3 phases (a slot
// every 167 ms): gaps come in steps of a slot, the new leader's first frame being the next one.
// BENCH_KILLS (default 8; short mode, BENCH_SECONDS set: 2) kills per mode; BENCH_JSON=file
// writes the summary.
import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJson, NatsBus, subjects } from '@backbeat/transport';
import { ManagedProcess, NatsCluster, natsServerBinary, waitFor } from '@backbeat/testing';
import { summary } from './lib.mjs';

const short = process.env.BENCH_SECONDS !== undefined;
const KILLS = Number(process.env.BENCH_KILLS ?? (short ? 2 : 8));
const TTL = 2000;
const CLI = fileURLToPath(new URL('../packages/cli/bin/backbeat.js', import.meta.url));
const server = natsServerBinary();
/** @param {number} ms @returns {Promise<void>} */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

console.log(
  `failover after kill -9 of the leading pulse: nats-server ${server.version}, 3 nodes, R3 lease, TTL ${TTL} ms, ` +
    `120 BPM, ${KILLS} kills per mode${short ? ' (short mode: not a measurement)' : ''}`,
);

const cluster = await NatsCluster.start(3, { name: 'failover' });
const dir = mkdtempSync(join(tmpdir(), 'bb-failover-'));
/** @type {Map<string, import('@backbeat/testing').ManagedProcess>} */
const procs = new Map();
/** @type {NatsBus | undefined} */
let bus;
const stopAll = async () => {
  await Promise.allSettled([...procs.values()].map((p) => p.stop(3000)));
  await bus?.close().catch(() => {});
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
process.once('SIGTERM', () => void stopAll().finally(() => process.exit(143)));

/** @type {Record<string, unknown>} */
const results = {
  server: server.version,
  ttl_ms: TTL,
  bpm: 120,
  kills: KILLS,
  target_ms: TTL + 150,
  mode: short ? 'short' : 'full',
};
try {
  const recorder = await NatsBus.connect({ servers: cluster.urls, name: 'failover-recorder' });
  bus = recorder;
  const modes = {
    poll: ['--lease-markers', 'off', '--max-clock-offset', '600000'],
    markers: ['--lease-markers', 'on', '--max-clock-offset', '600000'],
    takeover: ['--lease-markers', 'on'],
  };
  for (const [mode, flags] of Object.entries(modes)) {
    const clusterId = `fo${mode}`;
    /** @type {{ term: number, slot: number, at: number }[]} */
    const frames = [];
    const sub = recorder.subscribe(subjects(clusterId).beat, (m) => {
      const f = /** @type {{ beat_index: number, phase: string }} */ (decodeJson(m.data));
      frames.push({
        term: Number(m.headers['Backbeat-Term']),
        slot: f.beat_index * 3 + ['plan', 'execute', 'review'].indexOf(f.phase),
        at: performance.now(),
      });
    });
    /** @param {string} id */
    const args = (id) => [
      'pulse',
      '--cluster',
      clusterId,
      '--node-id',
      id,
      '--nats',
      cluster.urls.join(','),
      '--replicas',
      '3',
      '--bpm',
      '120',
      '--max-bpm',
      '600',
      '--lease-ttl',
      String(TTL),
      ...flags,
      '--admin-port',
      '0',
      '--data-dir',
      join(dir, `${clusterId}-${id}`),
      '--log-level',
      'warn',
    ];
    /** @param {string} id */
    const start = (id) => procs.set(`${clusterId}-${id}`, ManagedProcess.node(CLI, args(id)));
    start('p1');
    await waitFor(() => frames.length > 3, { timeoutMs: 30_000, message: 'frames of the first leader' });
    start('p2');
    await sleep(3000);
    /** @type {number[]} */
    const gaps = [];
    for (let k = 0; k < KILLS; k++) {
      const lease = await recorder.kv(`backbeat_${clusterId}_lease`, { create: false });
      const entry = await lease.get('leader');
      if (!entry) throw new Error(`no leader in the lease bucket of ${clusterId}`);
      const leader = /** @type {{ term: number, node_id: string }} */ (decodeJson(entry.value));
      const term = leader.term;
      const killed = procs.get(`${clusterId}-${leader.node_id}`);
      if (!killed) throw new Error(`the leader ${leader.node_id} is not one of this run's processes`);
      killed.kill('SIGKILL');
      await waitFor(() => frames.some((f) => f.term > term), {
        timeoutMs: 20_000,
        intervalMs: 5,
        message: `frames of a term after ${term}`,
      });
      const last = frames.filter((f) => f.term === term).at(-1);
      const first = frames.find((f) => f.term > term);
      if (!first || !last) throw new Error(`no frames around the change from term ${term}`);
      gaps.push(first.at - last.at);
      await killed.exited;
      start(leader.node_id);
      await sleep(3000 + Math.random() * 500); // the next kill lands at another point of the renewal and slot cycle
    }
    sub.unsubscribe();
    for (const id of ['p1', 'p2']) await procs.get(`${clusterId}-${id}`)?.stop(3000);
    results[mode] = { gap_ms: summary(gaps), gaps_ms: gaps.map((g) => Math.round(g)) };
    console.log(
      `${mode.padEnd(9)} gap ms ${JSON.stringify(summary(gaps))}  (each: ${gaps.map((g) => Math.round(g)).join(', ')})`,
    );
  }
  console.log(`baseline: poll (standbys wait for the server's expiry); target: TTL + 150 = ${TTL + 150} ms`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(results, null, 2)}\n`);
} finally {
  await stopAll();
}
