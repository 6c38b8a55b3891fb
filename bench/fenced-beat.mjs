#!/usr/bin/env node
// @ts-check
// npm run bench:fenced-beat: what it would cost to make the server check the fencing of every
// BeatFrame (docs/spec.md §7 Election, terms and fencing; the partition table in
// docs/operations.md shows old-term frames arriving seconds late through a NATS route). On a
// 3-node nats-server cluster (the pinned build), publisher on node 0, subscriber on node 1:
//   raw      (baseline) a core publish, as the pulse publishes today;
//   fenced   a JetStream publish to an R3 stream with `Nats-Expected-Last-Subject-Sequence` (the
//            writer's last acknowledged sequence), republished by the stream to the subscriber's
//            subject: a stale writer's frame is refused by the server, and the republish leaves
//            in stream order.
// Figures: publish to receipt p50/p95/p99, and for `fenced` the acknowledgement latency and how
// many frames of a stale writer (one acknowledged frame behind) the server refused (must be all).
// BENCH_SECONDS (default 10; CI's short mode 3) frames at 50 per second; BENCH_JSON=file.
import { writeFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { NatsCluster, natsServerBinary } from '@backbeat/testing';
import { summary, printTable } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = 50;
const N = Math.max(20, Math.round(seconds * RATE));
/** @param {number} ms @returns {Promise<void>} */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder();
const dec = new TextDecoder();

console.log(
  `fenced beat: nats-server ${natsServerBinary().version}, 3 nodes, ${N} frames at ` +
    `${RATE}/s per mode, publisher on node 0, subscriber on node 1`,
);
const cluster = await NatsCluster.start(3, { name: 'fenced' });
const conns = [];
try {
  const pub = await connect({ servers: cluster.urls[0] });
  const sub = await connect({ servers: cluster.urls[1] });
  conns.push(pub, sub);

  /**
   * Publishes N frames through `send`; returns receipt - send (ms) of each frame received on `subject`.
   * @param {string} subject
   * @param {(data: Uint8Array) => Promise<void>} send
   */
  async function run(subject, send) {
    /** @type {number[]} */
    const lat = [];
    const s = sub.subscribe(subject, {
      callback: (_err, m) => {
        const sent = Number(dec.decode(m.data).split(' ')[0]);
        lat.push(performance.now() - sent);
      },
    });
    await sub.flush();
    for (let i = 0; i < N; i++) {
      await send(enc.encode(`${performance.now()} frame ${i}`));
      await sleep(1000 / RATE);
    }
    await sleep(500);
    s.unsubscribe();
    return lat;
  }

  const raw = await run('raw.beat', async (data) => pub.publish('raw.beat', data));

  const jsm = await jetstreamManager(pub);
  await jsm.streams.add({
    name: 'FENCED_BEAT',
    subjects: ['fenced.in'],
    num_replicas: 3,
    max_msgs_per_subject: 1,
    republish: { src: 'fenced.in', dest: 'fenced.beat' },
  });
  const js = jetstream(pub);
  let last = 0;
  /** @type {number[]} */
  const acks = [];
  let staleRefused = 0;
  let staleStored = 0;
  const fenced = await run('fenced.beat', async (data) => {
    const t = performance.now();
    const stale = last;
    const ack = await js.publish('fenced.in', data, { expect: { lastSubjectSequence: last } });
    acks.push(performance.now() - t);
    last = ack.seq;
    // Every tenth frame, a stale writer (the sequence before) tries to publish: the server must refuse it.
    if (stale > 0 && ack.seq % 10 === 0) {
      try {
        await js.publish('fenced.in', enc.encode(`${performance.now()} stale`), {
          expect: { lastSubjectSequence: stale },
        });
        staleStored++;
      } catch {
        staleRefused++;
      }
    }
  });

  const rows = [
    { name: 'raw publish (baseline)', ...summary(raw) },
    { name: 'fenced: publish to receipt', ...summary(fenced) },
    { name: 'fenced: acknowledgement', ...summary(acks) },
  ];
  printTable('publish to receipt on another node', rows);
  console.log(`stale writer: ${staleRefused} frames refused by the server, ${staleStored} stored (must be 0)`);
  const result = {
    seconds,
    frames: N,
    raw_ms: summary(raw),
    fenced_ms: summary(fenced),
    fenced_ack_ms: summary(acks),
    stale_refused: staleRefused,
    stale_stored: staleStored,
  };
  console.log(JSON.stringify(result));
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(result, null, 2)}\n`);
  if (staleStored > 0) process.exitCode = 1;
} finally {
  for (const c of conns) await c.close().catch(() => {});
  await cluster.stop();
}
