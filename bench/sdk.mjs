#!/usr/bin/env node
// @ts-check
// npm run bench:sdk, on a real nats-server on 127.0.0.1, each measure beside its baseline:
// 1. Callback latency (frame receipt to callback): one SDK client following a pulse at 240 BPM
//    against a bare bus subscription that parses the JSON and calls a no-op, same process.
// 2. Fan-out: 1,000 clients over 4 processes following one pulse at 120 BPM: delivery
//    (receipt - scheduled time), callback time - scheduled time, and slots missed, for
//    (a) 250 clients sharing one NatsBus per process (frames timing), (b) 250 bare
//    subscriptions per process (the baseline), (g) the same clients in grid timing (target:
//    callback - slot p99 <= 0.5 ms, 0 missed or doubled), (l) the grid baseline: 250 no-op
//    callbacks per process run in one loop by one timer per process at each slot instant (the
//    SDK's wait: scheduleAt precise, wait 'block'), (c) one NATS connection per client.
//    Unless BENCH_SECONDS is short (< 10 s), grid timing also runs 10,000 clients in 8 processes.
// 3. Optional: local degradation on the real clock, the pulse stopped (BENCH_DEGRADE_SECONDS).
// Env (seconds): BENCH_SECONDS fan-out (a), (b) and (g), default 30, below 10 is the short mode
// (CI: latency for that long, no per-connection variant, no 10,000-client run); BENCH_LATENCY_SECONDS
// 10; BENCH_PERCONN_SECONDS fan-out (c), default 10, 0 skips; BENCH_DEGRADE_SECONDS default 0 (off).
// BENCH_JSON=file writes the JSON summary there too.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nextSlot, scheduleAt, slot, slotAtOrAfter, systemClock } from '@backbeat/core';
import { NatsServer } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { createClient } from '@backbeat/sdk';
import { printTable, summary } from './lib.mjs';

const PROCESSES = 4;
const PER_PROCESS = 250;
const START_BATCH = 25; // clients started concurrently in a child
const READY_TIMEOUT_MS = 90_000;
const TOLERANCE_MS = 50; // the SDK's default jitterToleranceMs
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dec = new TextDecoder();

/** A duration in seconds from the environment, 0..3600. */
function envSeconds(name, fallback) {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0 || v > 3600) throw new Error(`${name} must be from 0 to 3600 seconds, got '${process.env[name]}'`);
  return v;
}

// ---------------------------------------------------------------- child: one fan-out process
/** Runs `count` followers ('shared' | 'grid' | 'conn' SDK clients, 'bare' subscriptions, or 'loop' no-op callbacks on one timer). */
async function fanoutChild([url, cluster, mode, countArg, mapJson]) {
  process.on('disconnect', () => process.exit(1)); // the parent is gone: never linger
  const map = JSON.parse(mapJson);
  const count = Number(countArg);
  const bus = mode === 'conn' || mode === 'loop' ? undefined : await NatsBus.connect({ servers: url });
  let window = { from: Infinity, to: -Infinity }; // grid times of the measured slots
  const delivery = [];
  const callback = [];
  const tallies = [];
  const stops = [];
  const key = (beat, phaseIndex) => beat * map.phases.length + phaseIndex;
  const record = (t, beat, phaseIndex, scheduledAt, source, receivedAt, calledAt) => {
    if (scheduledAt < window.from || scheduledAt >= window.to) return;
    const k = key(beat, phaseIndex);
    if (t.fired.has(k)) t.dup++;
    t.fired.add(k);
    if (source === 'local') return void t.local++;
    if (source === 'grid') {
      t.grid++;
      callback.push(calledAt - scheduledAt);
      return;
    }
    t.leader++;
    delivery.push(receivedAt - scheduledAt);
    callback.push(calledAt - scheduledAt);
  };
  const loop = [];
  const startOne = async (i) => {
    const t = { fired: new Set(), leader: 0, local: 0, grid: 0, dup: 0 };
    tallies.push(t);
    if (mode === 'loop') {
      loop.push((beat, p, scheduledAt, firedAt) => record(t, beat, p, scheduledAt, 'grid', firedAt, now()));
      return;
    }
    if (mode === 'bare') {
      const sub = bus.subscribe(subjects(cluster).beat, (m) => {
        const receivedAt = now();
        const f = JSON.parse(dec.decode(m.data));
        const p = map.phases.indexOf(f.phase);
        record(t, f.beat_index, p, slot(map, f.beat_index, p).phaseStart, 'leader', receivedAt, now());
      });
      stops.push(async () => sub.unsubscribe());
      return;
    }
    const agentId = `agent:fan-${process.pid}-${i}`;
    const timing = mode === 'grid' ? 'grid' : 'frames';
    const c = createClient(mode === 'conn' ? { clusterId: cluster, agentId, nats: url } : { clusterId: cluster, agentId, bus, timing });
    c.onPhase((f, info) => record(t, f.beat_index, map.phases.indexOf(f.phase), info.scheduledAt, info.source, info.receivedAt, now()));
    stops.push(() => c.stop());
    await c.start();
  };
  for (let i = 0; i < count; i += START_BATCH) {
    await Promise.all(Array.from({ length: Math.min(START_BATCH, count - i) }, (_, j) => startOne(i + j)));
  }
  if (mode === 'loop') {
    // One timer per process, every callback of a slot in one loop: what a grid fire costs at least.
    let pos = slotAtOrAfter(map, now() + 5);
    let cancel;
    const arm = () => {
      cancel = scheduleAt(systemClock, pos.phaseStart, (firedAt) => {
        for (const cb of loop) cb(pos.beatIndex, pos.phaseIndex, pos.phaseStart, firedAt);
        pos = nextSlot(map, pos);
        arm();
      }, { precise: true, wait: 'block' });
    };
    arm();
    stops.push(async () => cancel());
  }
  await bus?.flush();
  process.send({ ready: true, rssMb: process.memoryUsage().rss / 2 ** 20 });
  let cpuAtGo;
  process.on('message', async (msg) => {
    if (msg.go) {
      cpuAtGo = process.cpuUsage();
      return void (window = msg.go);
    }
    const cpu = process.cpuUsage(cpuAtGo);
    for (let i = 0; i < stops.length; i += START_BATCH) await Promise.all(stops.slice(i, i + START_BATCH).map((s) => s()));
    await bus?.close();
    const missed = tallies.reduce((a, t) => a + msg.expected - [...t.fired].filter((k) => k >= msg.firstKey && k < msg.firstKey + msg.expected).length, 0);
    const sum = (f) => tallies.reduce((a, t) => a + f(t), 0);
    const out = { clients: tallies.length, missed, leader: sum((t) => t.leader), local: sum((t) => t.local), grid: sum((t) => t.grid), dup: sum((t) => t.dup), cpuMs: (cpu.user + cpu.system) / 1000 };
    process.send({ ...out, delivery: Float64Array.from(delivery), callback: Float64Array.from(callback) }, () => process.exit(0));
  });
}

// ---------------------------------------------------------------- parent helpers
/** The next message of `child` matching `pred`, or an error on exit or after `ms`. */
function nextMessage(child, pred, ms) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`fan-out child ${child.pid} is gone (${child.exitCode ?? child.signalCode})`));
    const done = (fn, v) => (clearTimeout(timer), child.off('message', onMsg), child.off('exit', onExit), fn(v));
    const onMsg = (m) => pred(m) && done(resolve, m);
    const onExit = (code) => done(reject, new Error(`fan-out child ${child.pid} exited (${code}) early`));
    const timer = setTimeout(() => done(reject, new Error(`fan-out child ${child.pid}: no answer in ${ms} ms`)), ms);
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/** Sends `msg` to a child. @throws Error when the child is gone */
function tell(child, msg) {
  if (!child.connected) throw new Error(`fan-out child ${child.pid} is gone (${child.exitCode ?? child.signalCode})`);
  child.send(msg);
}

/** Counts the grid slots scheduled in [from, to) and the key of the first. */
function slotsIn(map, from, to) {
  const first = slotAtOrAfter(map, from);
  let n = 0;
  for (let s = first; s.phaseStart < to; n++) s = s.phaseIndex + 1 < map.phases.length ? slot(map, s.beatIndex, s.phaseIndex + 1) : slot(map, s.beatIndex + 1, 0);
  return { firstKey: first.beatIndex * map.phases.length + first.phaseIndex, expected: n };
}

/** One fan-out variant: `processes` children x `perProcess` followers, measured for `seconds`. */
async function fanout(ctx, mode, seconds, processes = PROCESSES, perProcess = PER_PROCESS) {
  const t0 = now();
  const kids = Array.from({ length: processes }, () =>
    fork(ctx.self, ['fanout', ctx.url, ctx.cluster, mode === 'grid10k' ? 'grid' : mode, String(perProcess), JSON.stringify(ctx.map)], { serialization: 'advanced' }),
  );
  ctx.children.push(...kids);
  for (const k of kids) k.on('error', (err) => console.error(`fan-out child ${k.pid}: ${err.message}`));
  const ready = await Promise.all(kids.map((k) => nextMessage(k, (m) => m.ready, READY_TIMEOUT_MS)));
  const startupS = (now() - t0) / 1000;
  // Measure whole slots from half a phase after now + 500 ms; stop after the last one's tolerance.
  const phaseMs = 60_000 / ctx.bpm / ctx.map.phases.length;
  const from = slotAtOrAfter(ctx.map, now() + 500).phaseStart - phaseMs / 2;
  const to = from + seconds * 1000;
  for (const k of kids) tell(k, { go: { from, to } });
  await sleep(to + TOLERANCE_MS + 250 - now());
  const { firstKey, expected } = slotsIn(ctx.map, from, to);
  const res = await Promise.all(kids.map((k) => (tell(k, { stop: true, firstKey, expected }), nextMessage(k, (m) => 'missed' in m, 30_000))));
  const cat = (f) => res.flatMap((r) => Array.from(f(r)));
  const sum = (f) => res.reduce((a, r) => a + f(r), 0);
  return {
    mode,
    seconds,
    startup_s: Math.round(startupS * 10) / 10,
    rss_mb_per_process: Math.round(Math.max(...ready.map((r) => r.rssMb))),
    // CPU of a child from 'go' to 'stop' (the measured window, plus the tolerance), per second of it.
    cpu_ms_per_s_per_process: Math.round((Math.max(...res.map((r) => r.cpuMs)) / (to + TOLERANCE_MS + 250 - from)) * 1000 * 10) / 10,
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

// ---------------------------------------------------------------- parent: the benchmark
async function main() {
  const seconds = envSeconds('BENCH_SECONDS', 30) || 30;
  const short = seconds < 10;
  const latencySeconds = envSeconds('BENCH_LATENCY_SECONDS', short ? seconds : 10) || 10;
  const perConnSeconds = envSeconds('BENCH_PERCONN_SECONDS', short ? 0 : 10);
  const degradeSeconds = envSeconds('BENCH_DEGRADE_SECONDS', 0);
  const children = [];
  const killAll = () => children.forEach((k) => k.exitCode === null && k.signalCode === null && k.kill('SIGKILL'));
  process.once('exit', killAll);
  const server = await NatsServer.start();
  const bus = await NatsBus.connect({ servers: server.url });
  const result = { seconds, short, latency_seconds: latencySeconds, perconn_seconds: perConnSeconds };
  try {
    // 1. Callback latency at 240 BPM: the SDK and a bare subscription, after 1 s of warm-up.
    console.log(`callback latency at 240 BPM for ${latencySeconds} s on ${server.url} ...`);
    const latPulse = new Pulse({ bus, clusterId: 'sdklat', nodeId: 'bench-lat', bpm: 240, maxBpm: 1000, elector: 'single' });
    await latPulse.start();
    const sdkLat = [];
    const bareLat = [];
    let recording = false;
    const client = createClient({ clusterId: 'sdklat', agentId: 'agent:latency', nats: server.url });
    client.onPhase((_f, info) => recording && info.source === 'leader' && sdkLat.push(now() - info.receivedAt));
    await client.start();
    const bare = await NatsBus.connect({ servers: server.url });
    const noop = (_frame, receivedAt) => recording && bareLat.push(now() - receivedAt);
    bare.subscribe(subjects('sdklat').beat, (m) => {
      const receivedAt = now();
      noop(JSON.parse(dec.decode(m.data)), receivedAt);
    });
    await bare.flush();
    await sleep(1000);
    recording = true;
    await sleep(latencySeconds * 1000);
    recording = false;
    await client.stop();
    await bare.close();
    await latPulse.stop();
    result.callback_latency_ms = { sdk: summary(sdkLat), bare_subscription: summary(bareLat) };

    // 2. Fan-out at 120 BPM: shared bus, bare subscriptions, one connection per client.
    const pulse = new Pulse({ bus, clusterId: 'sdkfan', nodeId: 'bench-fan', bpm: 120, maxBpm: 1000, elector: 'single' });
    await pulse.start();
    const deadline = now() + 10_000;
    while (!pulse.tempoMap && now() < deadline) await sleep(20);
    if (!pulse.tempoMap) throw new Error('the fan-out pulse made no tempo map in 10 s');
    const ctx = { self: fileURLToPath(import.meta.url), url: server.url, cluster: 'sdkfan', bpm: 120, map: pulse.tempoMap, children };
    const variants = [
      ['shared', seconds],
      ['bare', seconds],
      ['grid', seconds],
      ['loop', seconds],
      ['grid10k', short ? 0 : seconds, 8, 1250],
      ['conn', perConnSeconds],
    ].filter(([, s]) => s > 0);
    result.fanout = {};
    for (const [mode, s, procs = PROCESSES, per = PER_PROCESS] of variants) {
      console.log(`fan-out '${mode}': ${procs * per} followers over ${procs} processes at 120 BPM for ${s} s ...`);
      result.fanout[mode] = await fanout(ctx, mode, s, procs, per);
    }

    // 3. Optional: the pulse stops; one client keeps the grid alone. Each local slot is compared
    // with the leader's grid; the baseline is a setTimeout chain of the beat period.
    if (degradeSeconds > 0) {
      console.log(`local degradation for ${degradeSeconds} s without a leader ...`);
      const alone = createClient({ clusterId: 'sdkfan', agentId: 'agent:alone', nats: server.url });
      const gridError = [];
      const fireLate = [];
      const map = pulse.tempoMap;
      alone.onPhase((f, info) => {
        if (info.source !== 'local') return;
        fireLate.push(now() - info.scheduledAt - TOLERANCE_MS);
        gridError.push(Math.abs(info.scheduledAt - slot(map, f.beat_index, map.phases.indexOf(f.phase)).phaseStart));
      });
      await alone.start();
      await sleep(1500);
      await pulse.stop();
      const naive = [];
      const t0 = now();
      let k = 0;
      const tick = () => {
        naive.push(now() - (t0 + ++k * 500));
        if (now() - t0 < degradeSeconds * 1000) setTimeout(tick, 500);
      };
      setTimeout(tick, 500);
      await sleep(degradeSeconds * 1000 + 600);
      await alone.stop();
      result.degradation = {
        seconds: degradeSeconds,
        local_slots: gridError.length,
        grid_error_ms: summary(gridError),
        local_fire_lateness_ms: summary(fireLate),
        settimeout_chain_lateness_ms_at_end: Math.round(naive.at(-1) * 1000) / 1000,
      };
    }
    await pulse.stop();
    report(result);
  } finally {
    killAll();
    await bus.close().catch(() => {});
    await server.stop();
  }
}

/** Prints the tables and the one-line JSON. */
function report(result) {
  printTable('Callback latency: callback time - frame receipt, one client at 240 BPM (target p99 <= 0.2 ms; seed <= 5 ms)', [
    { name: 'SDK onPhase', ...result.callback_latency_ms.sdk },
    { name: 'bare subscription + JSON.parse', ...result.callback_latency_ms.bare_subscription },
  ]);
  const label = {
    shared: 'SDK frames, 1 conn/process',
    bare: 'bare subscriptions (baseline)',
    grid: 'SDK grid, 1 conn/process',
    grid10k: 'SDK grid, 10,000 in 8 processes',
    loop: 'no-op callbacks, 1 timer/process (grid baseline)',
    conn: 'SDK frames, 1 conn/client',
  };
  const fan = Object.values(result.fanout);
  printTable('Fan-out at 120 BPM: receipt - scheduled time of leader frames (target p95 <= 2 ms)', fan.filter((f) => f.delivery_ms.n > 0).map((f) => ({ name: `${label[f.mode]}, ${f.clients} clients, ${f.seconds} s`, ...f.delivery_ms })));
  printTable('Fan-out: callback time - scheduled time (grid target p99 <= 0.5 ms, below the bare subscription)', fan.map((f) => ({ name: `${label[f.mode]}, ${f.clients} clients, ${f.seconds} s`, ...f.callback_ms })));
  console.log('\nSlots per variant (target: nothing missed, no duplicates):');
  for (const f of fan) {
    console.log(`  ${label[f.mode].padEnd(32)} expected ${f.expected_per_client} x ${f.clients} clients; leader ${f.fired_leader}, grid ${f.fired_grid}, local ${f.fired_local}, duplicates ${f.duplicates}, missed ${f.missed}; startup ${f.startup_s} s, rss <= ${f.rss_mb_per_process} MB/process, cpu <= ${f.cpu_ms_per_s_per_process} ms/s per process`);
  }
  if (!result.fanout.conn) console.log('  SDK, 1 connection per client: skipped (BENCH_PERCONN_SECONDS=0, its default in short mode)');
  if (!result.fanout.grid10k) console.log('  SDK grid, 10,000 in 8 processes: skipped in short mode (BENCH_SECONDS < 10)');
  if (result.degradation) {
    const d = result.degradation;
    printTable(`Local degradation for ${d.seconds} s without a leader (target: on the leader's grid within 1 ms)`, [
      { name: 'local slot - leader grid', ...d.grid_error_ms },
      { name: 'fire time - (slot + 50 ms)', ...d.local_fire_lateness_ms },
    ]);
    console.log(`baseline: a setTimeout(500 ms) chain is ${d.settimeout_chain_lateness_ms_at_end} ms late after ${d.seconds} s`);
  } else {
    console.log('\nLocal degradation: skipped (BENCH_DEGRADE_SECONDS=600 runs the 10-minute drift run)');
  }
  console.log(`\n${JSON.stringify(result)}`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[2] === 'fanout') await fanoutChild(process.argv.slice(3));
else await main();
