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
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NatsServer } from '@backbeat/testing';
import { NatsBus, clusterNames, readTempoMap } from '@backbeat/transport';
import { slot } from '@backbeat/core';
import { Pulse } from '@backbeat/pulse';
import { printTable, summary } from './lib.mjs';

const role = process.argv[2];
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const BPM = 120;
const PHASE_MS = 60_000 / BPM / 3;
const now = () => performance.timeOrigin + performance.now();
const enc = new TextEncoder();
const dec = new TextDecoder();

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
function toParent(message, then) {
  if (!process.send) throw new Error('bench/pulse.mjs child roles run only as forked children');
  process.send(message, undefined, {}, then);
}

/** Load mode: the main thread is blocked 5 ms every 50 ms. */
function startLoad() {
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
function reportWhenAsked(jitter, cleanup, extra = () => ({})) {
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

/**
 * @param {string} url
 * @param {boolean} load
 */
async function pulseChild(url, load) {
  const bus = await NatsBus.connect({ servers: url });
  /** @type {number[]} */
  const jitter = [];
  const cluster = load ? 'benchload' : 'bench';
  // The pulse checks the value (one line naming --beat-fencing for anything else).
  const beatFencing = /** @type {import('@backbeat/pulse').BeatFencing | undefined} */ (
    process.env.BENCH_BEAT_FENCING || undefined
  );
  const pulse = new Pulse({
    ...{
      bus,
      clusterId: cluster,
      nodeId: cluster,
      bpm: BPM,
      maxBpm: BPM,
      elector: 'single',
      emitterNats: { servers: url },
    },
    beatFencing,
    onPublished: (e) => jitter.push(e.publishedAt - e.scheduledAt),
  });
  await pulse.start();
  /** The emitter thread's load counters (there once the thread is up). */
  const loadNow = () => {
    const l = pulse.emitterStatus().load;
    if (!l) throw new Error('the emitter thread reports no load');
    return l;
  };
  while (!pulse.emitterStatus().load) await new Promise((r) => setTimeout(r, 20)); // the thread is up
  const load0 = loadNow();
  const timer = load ? startLoad() : undefined;
  reportWhenAsked(
    jitter,
    async () => {
      clearInterval(timer);
      await pulse.stop();
      await bus.close();
    },
    () => {
      // The emitter thread's busy share of the measured window (its own thread: nothing else runs there).
      const l = loadNow();
      const active = l.active - load0.active;
      const wall = active + l.idle - load0.idle;
      // CPU the OS gave the thread (Linux); its event loop's busy share counts blocked waits too.
      const cpu = l.cpuMs !== undefined && load0.cpuMs !== undefined ? ((l.cpuMs - load0.cpuMs) / wall) * 100 : null;
      return {
        emitter_pct: cpu ?? (active / wall) * 100,
        emitter_loop_busy_pct: (active / wall) * 100,
        emitter_cpu_measured: cpu !== null,
        where: pulse.emitterStatus().where,
      };
    },
  );
}

/**
 * @param {string} url
 * @param {boolean} load
 */
async function spinChild(url, load) {
  const bus = await NatsBus.connect({ servers: url });
  const subject = load ? 'bench.spinload' : 'bench.spin';
  /** @type {number[]} */
  const jitter = [];
  const start = Math.ceil(now() / 1000) * 1000 + 1000;
  let n = 0;
  let stopped = false;
  const arm = () => {
    const t = start + n * PHASE_MS;
    setTimeout(
      () => {
        const poll = () => {
          if (stopped) return;
          if (now() < t) return void setImmediate(poll);
          const t0 = now();
          bus.publish(subject, enc.encode(JSON.stringify({ n, scheduled: t, sent: t0 })));
          jitter.push(t0 - t);
          n++;
          arm();
        };
        poll();
      },
      Math.max(0, t - now() - 2),
    );
  };
  arm();
  const timer = load ? startLoad() : undefined;
  reportWhenAsked(jitter, async () => {
    stopped = true;
    clearInterval(timer);
    await bus.close();
  });
}

/** @param {string} url */
async function tickerChild(url) {
  // The naive emitter: setInterval at the phase period. Node keeps whole milliseconds of a
  // delay (166.67 ms runs as 166), so its ticks creep ahead of the grid and most go out early.
  const bus = await NatsBus.connect({ servers: url });
  /** @type {number[]} */
  const jitter = [];
  const start = Math.ceil(now() / 1000) * 1000 + 1000;
  await new Promise((r) => setTimeout(r, start - now()));
  let n = 0;
  const timer = setInterval(() => {
    const scheduled = start + (n + 1) * PHASE_MS; // setInterval first fires one period after it is set
    const t0 = now();
    bus.publish('bench.ticker', enc.encode(JSON.stringify({ n, scheduled })));
    jitter.push(t0 - scheduled);
    n++;
  }, PHASE_MS);
  reportWhenAsked(jitter, async () => {
    clearInterval(timer);
    await bus.close();
  });
}

/** @param {string} url */
async function subscriberChild(url) {
  const bus = await NatsBus.connect({ servers: url });
  /** @type {Record<string, number[]>} */
  const delivery = {};
  /**
   * @param {string} key
   * @param {number} lateness
   */
  const add = (key, lateness) => (delivery[key] ??= []).push(lateness);
  // A frame's scheduled_at is ISO text, whole ms: the slot's exact instant (fractional, as the
  // spin emitter sends its own) is read from the pulse's tempo map once the run is over.
  /** @type {Array<{ cluster: string, t: number, beat: number, phase: string, iso: string }>} */
  const frames = [];
  bus.subscribe('backbeat.*.beat', (m) => {
    const t = now();
    const f = JSON.parse(dec.decode(m.data));
    frames.push({ cluster: m.subject.split('.')[1], t, beat: f.beat_index, phase: f.phase, iso: f.scheduled_at });
  });
  const exactDelivery = async () => {
    const maps = new Map();
    for (const c of new Set(frames.map((f) => f.cluster)))
      maps.set(c, (await readTempoMap(await bus.kv(clusterNames(c).stateBucket, { create: false })))?.map);
    for (const f of frames) {
      const map = maps.get(f.cluster);
      const at = map ? slot(map, f.beat, map.phases.indexOf(f.phase)).phaseStart : Date.parse(f.iso);
      if (map && Math.abs(at - Date.parse(f.iso)) >= 1)
        throw new Error(`frame ${f.beat}/${f.phase} scheduled_at ${f.iso} is not its slot ${at}`);
      add(f.cluster, f.t - at);
    }
  };
  bus.subscribe('bench.*', (m) => {
    const t = now();
    const f = JSON.parse(dec.decode(m.data));
    const key = m.subject.split('.')[1];
    add(key, t - f.scheduled);
    // The raw NATS hop (receive - publish call) of the spin emitter's frames: the machine's
    // floor for delivery, whatever the emitter does before it publishes.
    if (f.sent !== undefined) add(`${key}_hop`, t - f.sent);
  });
  await bus.flush();
  toParent({ ready: true });
  process.on('message', async () => {
    await exactDelivery();
    await bus.close();
    toParent(delivery, () => process.exit(0));
  });
}

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
    `emitters at ${BPM} BPM, ${seconds} s each, on nats-server ${server.url}: pulse and spin idle ` +
      'and loaded (main thread blocked 5 ms every 50 ms), setInterval idle...',
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
  /** @type {Record<string, number[] | undefined>} */
  const deliveryOf = {
    pulse: delivered.bench,
    pulse_loaded: delivered.benchload,
    spin: delivered.spin,
    spin_loaded: delivered.spinload,
    setInterval: delivered.ticker,
  };
  /** @param {number[]} xs */
  const tail = (xs) => xs.slice(-Math.max(1, Math.floor(xs.length / 10)));
  /** @param {number[]} xs */
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const names = Object.keys(runs);
  const pulseRun = runs.pulse;
  const result = {
    seconds,
    bpm: BPM,
    jitter: Object.fromEntries(names.map((n) => [n, summary(runs[n].jitter)])),
    delivery: Object.fromEntries(names.map((n) => [n, summary(deliveryOf[n] ?? [])])),
    // receive - publish call of the spin emitter's frames (idle run): the machine's own hop
    nats_hop: summary(delivered.spin_hop ?? []),
    early: Object.fromEntries(names.map((n) => [n, runs[n].jitter.filter((x) => x < 0).length])),
    cpu: {
      pulse_process_pct: runs.pulse.cpu_pct,
      pulse_emitter_thread_pct: pulseRun.emitter_pct ?? NaN,
      pulse_emitter_thread_measured_by: runs.pulse.emitter_cpu_measured
        ? 'thread cpu time (/proc schedstat)'
        : 'event loop busy share',
      pulse_emitter_loop_busy_pct: pulseRun.emitter_loop_busy_pct ?? NaN,
      spin_process_pct: runs.spin.cpu_pct,
      setInterval_process_pct: runs.setInterval.cpu_pct,
    },
    emitter: runs.pulse.where,
    drift: {
      pulse_first10pct_mean_ms: mean(runs.pulse.jitter.slice(0, Math.max(1, runs.pulse.jitter.length / 10))),
      pulse_last10pct_mean_ms: mean(tail(runs.pulse.jitter)),
      setInterval_first10pct_mean_ms: mean(
        runs.setInterval.jitter.slice(0, Math.max(1, runs.setInterval.jitter.length / 10)),
      ),
      setInterval_last10pct_mean_ms: mean(tail(runs.setInterval.jitter)),
    },
  };
  const targets = {
    jitter_p99_idle_le_0_5ms: result.jitter.pulse.p99 <= 0.5,
    jitter_p99_loaded_le_1ms: result.jitter.pulse_loaded.p99 <= 1,
    delivery_p95_le_1_5ms: result.delivery.pulse.p95 <= 1.5,
    emitter_cpu_le_2pct: result.cpu.pulse_emitter_thread_pct <= 2,
    never_early: result.early.pulse === 0 && result.early.pulse_loaded === 0,
  };
  const summaries = { ...result, targets };
  printTable(
    'Jitter: publish time - slot time',
    names.map((n) => ({ name: n, ...result.jitter[n] })),
  );
  printTable('Delivery: subscriber receive time - slot time', [
    ...names.map((n) => ({ name: n, ...result.delivery[n] })),
    { name: 'NATS hop (spin: receive - publish)', ...result.nats_hop },
  ]);
  console.log(`\nFrames sent before their slot: ${names.map((n) => `${n} ${result.early[n]}`).join(', ')}`);
  console.log(
    `CPU at ${BPM} BPM (% of one core): pulse emitter thread ` +
      `${result.cpu.pulse_emitter_thread_pct.toFixed(2)} (${result.cpu.pulse_emitter_thread_measured_by}; ` +
      `its event loop busy ${result.cpu.pulse_emitter_loop_busy_pct.toFixed(2)} %, blocked waits included) ` +
      `(whole pulse process ${result.cpu.pulse_process_pct.toFixed(2)}), spin process ` +
      `${result.cpu.spin_process_pct.toFixed(2)}, setInterval process ` +
      `${result.cpu.setInterval_process_pct.toFixed(2)}`,
  );
  console.log(
    'Drift over the run (mean lateness, first vs last 10 %): pulse ' +
      `${result.drift.pulse_first10pct_mean_ms.toFixed(3)} -> ${result.drift.pulse_last10pct_mean_ms.toFixed(3)} ` +
      `ms; setInterval ${result.drift.setInterval_first10pct_mean_ms.toFixed(3)} -> ` +
      `${result.drift.setInterval_last10pct_mean_ms.toFixed(3)} ms`,
  );
  console.log(
    `Targets: ${Object.entries(targets)
      .map(([k, v]) => `${k} ${v ? 'met' : 'NOT met'}`)
      .join(', ')}`,
  );
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(summaries, null, 2)}\n`);
  console.log(`\n${JSON.stringify(summaries)}`);
}
