#!/usr/bin/env node
// npm run bench:pulse: the pulse at 120 BPM for 60 s (BENCH_SECONDS to change) on a real
// nats-server, against a plain setInterval ticker run side by side in the same run.
// Prints p50/p95/p99/max of publish time minus scheduled time (jitter) and of a separate
// subscriber process's receive time minus scheduled time (delivery), as a table and JSON.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NatsServer } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { printTable, summary } from './lib.mjs';

const role = process.argv[2];
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const BPM = 120;
const PHASE_MS = 60_000 / BPM / 3;
const now = () => performance.timeOrigin + performance.now();
const enc = new TextEncoder();
const dec = new TextDecoder();

if (role === 'ticker') {
  // The baseline: what a naive emitter does, setInterval at the phase period.
  const bus = await NatsBus.connect({ servers: process.argv[3] });
  const jitter = [];
  const start = Math.ceil(now() / 1000) * 1000 + 1000;
  await new Promise((r) => setTimeout(r, start - now()));
  let n = 0;
  const timer = setInterval(() => {
    const scheduled = start + (n + 1) * PHASE_MS; // setInterval first fires one period after it is set
    bus.publish('bench.ticker', enc.encode(JSON.stringify({ n, scheduled })));
    jitter.push(now() - scheduled);
    n++;
  }, PHASE_MS);
  process.on('message', async () => {
    clearInterval(timer);
    await bus.close();
    process.send({ jitter }, () => process.exit(0));
  });
} else if (role === 'subscriber') {
  const bus = await NatsBus.connect({ servers: process.argv[3] });
  const pulse = [];
  const ticker = [];
  bus.subscribe('backbeat.bench.beat', (m) => {
    const t = now();
    pulse.push(t - Date.parse(JSON.parse(dec.decode(m.data)).scheduled_at));
  });
  bus.subscribe('bench.ticker', (m) => {
    const t = now();
    ticker.push(t - JSON.parse(dec.decode(m.data)).scheduled);
  });
  await bus.flush();
  process.send({ ready: true });
  process.on('message', async () => {
    await bus.close();
    process.send({ pulse, ticker }, () => process.exit(0));
  });
} else {
  const server = await NatsServer.start();
  const self = fileURLToPath(import.meta.url);
  const sub = fork(self, ['subscriber', server.url]);
  await new Promise((r) => sub.once('message', r));
  const tick = fork(self, ['ticker', server.url]);
  const bus = await NatsBus.connect({ servers: server.url });
  const jitter = [];
  const pulse = new Pulse({ bus, clusterId: 'bench', nodeId: 'bench', bpm: BPM, maxBpm: BPM, elector: 'single', onPublished: (e) => jitter.push(e.publishedAt - e.scheduledAt) });
  console.log(`pulse at ${BPM} BPM for ${seconds} s on nats-server ${server.url} (a setInterval ticker runs beside it)...`);
  await pulse.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await pulse.stop();
  const ask = (child) => new Promise((r) => { child.once('message', r); child.send('stop'); });
  const [t, s] = await Promise.all([ask(tick), ask(sub)]);
  await bus.close();
  await server.stop();
  const tail = (xs) => xs.slice(-Math.max(1, Math.floor(xs.length / 10)));
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const result = {
    seconds,
    bpm: BPM,
    jitter: { pulse: summary(jitter), setInterval: summary(t.jitter) },
    delivery: { pulse: summary(s.pulse), setInterval: summary(s.ticker) },
    drift: {
      pulse_first10pct_mean_ms: mean(jitter.slice(0, Math.max(1, jitter.length / 10))),
      pulse_last10pct_mean_ms: mean(tail(jitter)),
      setInterval_first10pct_mean_ms: mean(t.jitter.slice(0, Math.max(1, t.jitter.length / 10))),
      setInterval_last10pct_mean_ms: mean(tail(t.jitter)),
    },
  };
  printTable('Jitter: publish time - scheduled time', [
    { name: 'pulse', ...result.jitter.pulse },
    { name: 'setInterval', ...result.jitter.setInterval },
  ]);
  printTable('Delivery: subscriber receive time - scheduled time', [
    { name: 'pulse', ...result.delivery.pulse },
    { name: 'setInterval', ...result.delivery.setInterval },
  ]);
  console.log(`\nDrift over the run (mean lateness, first vs last 10 %): pulse ${result.drift.pulse_first10pct_mean_ms.toFixed(3)} -> ${result.drift.pulse_last10pct_mean_ms.toFixed(3)} ms; setInterval ${result.drift.setInterval_first10pct_mean_ms.toFixed(3)} -> ${result.drift.setInterval_last10pct_mean_ms.toFixed(3)} ms`);
  console.log(`\n${JSON.stringify(result)}`);
}
