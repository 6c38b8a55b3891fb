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
// The parts are in bench/sdk/: fanout.mjs (the parent's side of a fan-out variant),
// fanout-child.mjs (one fan-out process), report.mjs (the summary), common.mjs.
import { NatsServer } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';
import { slot } from '@backbeat/core';
import { Pulse } from '@backbeat/pulse';
import { createClient } from '@backbeat/sdk';
import { summary } from './lib.mjs';
import { PER_PROCESS, PROCESSES, TOLERANCE_MS, now, sleep } from './sdk/common.mjs';
import { fanout } from './sdk/fanout.mjs';
import { report } from './sdk/report.mjs';

/** @typedef {import('./sdk/common.mjs').ChildProcess} ChildProcess */
/** @typedef {import('./sdk/common.mjs').FanoutContext} FanoutContext */
/** @typedef {import('./sdk/report.mjs').SdkBenchResult} SdkBenchResult */

const dec = new TextDecoder();

/**
 * A duration in seconds from the environment, 0..3600.
 * @param {string} name
 * @param {number} fallback
 */
function envSeconds(name, fallback) {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0 || v > 3600)
    throw new Error(`${name} must be from 0 to 3600 seconds, got '${process.env[name]}'`);
  return v;
}

async function main() {
  const seconds = envSeconds('BENCH_SECONDS', 30) || 30;
  const short = seconds < 10;
  const latencySeconds = envSeconds('BENCH_LATENCY_SECONDS', short ? seconds : 10) || 10;
  const perConnSeconds = envSeconds('BENCH_PERCONN_SECONDS', short ? 0 : 10);
  const degradeSeconds = envSeconds('BENCH_DEGRADE_SECONDS', 0);
  /** @type {ChildProcess[]} */
  const children = [];
  const killAll = () => children.forEach((k) => k.exitCode === null && k.signalCode === null && k.kill('SIGKILL'));
  process.once('exit', killAll);
  const server = await NatsServer.start();
  const bus = await NatsBus.connect({ servers: server.url });
  /** @type {SdkBenchResult} */
  const result = { seconds, short, latency_seconds: latencySeconds, perconn_seconds: perConnSeconds, fanout: {} };
  try {
    // 1. Callback latency at 240 BPM: the SDK and a bare subscription, after 1 s of warm-up.
    console.log(`callback latency at 240 BPM for ${latencySeconds} s on ${server.url} ...`);
    const latPulse = new Pulse({
      bus,
      clusterId: 'sdklat',
      nodeId: 'bench-lat',
      bpm: 240,
      maxBpm: 1000,
      elector: 'single',
    });
    await latPulse.start();
    /** @type {number[]} */
    const sdkLat = [];
    /** @type {number[]} */
    const bareLat = [];
    let recording = false;
    const client = createClient({ clusterId: 'sdklat', agentId: 'agent:latency', nats: server.url });
    client.onPhase((_f, info) => recording && info.source === 'leader' && sdkLat.push(now() - info.receivedAt));
    await client.start();
    const bare = await NatsBus.connect({ servers: server.url });
    /**
     * @param {unknown} _frame
     * @param {number} receivedAt
     */
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
    const pulse = new Pulse({
      bus,
      clusterId: 'sdkfan',
      nodeId: 'bench-fan',
      bpm: 120,
      maxBpm: 1000,
      elector: 'single',
    });
    await pulse.start();
    const deadline = now() + 10_000;
    while (!pulse.tempoMap && now() < deadline) await sleep(20);
    const map = pulse.tempoMap;
    if (!map) throw new Error('the fan-out pulse made no tempo map in 10 s');
    /** @type {FanoutContext} */
    const ctx = { url: server.url, cluster: 'sdkfan', bpm: 120, map, children };
    /** @type {Array<[string, number, number?, number?]>} */
    const plan = [
      ['shared', seconds],
      ['bare', seconds],
      ['grid', seconds],
      ['loop', seconds],
      ['grid10k', short ? 0 : seconds, 8, 1250],
      ['conn', perConnSeconds],
    ];
    const variants = plan.filter(([, s]) => s > 0);
    for (const [mode, s, procs = PROCESSES, per = PER_PROCESS] of variants) {
      console.log(`fan-out '${mode}': ${procs * per} followers over ${procs} processes at 120 BPM for ${s} s ...`);
      result.fanout[mode] = await fanout(ctx, mode, s, procs, per);
    }

    // 3. Optional: the pulse stops; one client keeps the grid alone. Each local slot is compared
    // with the leader's grid; the baseline is a setTimeout chain of the beat period.
    if (degradeSeconds > 0) {
      console.log(`local degradation for ${degradeSeconds} s without a leader ...`);
      const alone = createClient({ clusterId: 'sdkfan', agentId: 'agent:alone', nats: server.url });
      /** @type {number[]} */
      const gridError = [];
      /** @type {number[]} */
      const fireLate = [];
      alone.onPhase((f, info) => {
        if (info.source !== 'local') return;
        fireLate.push(now() - info.scheduledAt - TOLERANCE_MS);
        gridError.push(Math.abs(info.scheduledAt - slot(map, f.beat_index, map.phases.indexOf(f.phase)).phaseStart));
      });
      await alone.start();
      await sleep(1500);
      await pulse.stop();
      /** @type {number[]} */
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
        settimeout_chain_lateness_ms_at_end: Math.round((naive.at(-1) ?? NaN) * 1000) / 1000,
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

await main();
