#!/usr/bin/env node
// npm run bench:reverb: reverb's figures, each beside the plain baseline of the same run.
//   verify      Ed25519 verifications/s: node:crypto on one core (baseline), node:crypto across
//               worker threads, libsodium (sodium-native) on one core, and reverb's VerifyPool
//               (ED25519_BACKEND on one thread per core).
//   ingest      claims/s in one process: JSON.parse only (baseline), unsigned, verified on the main
//               thread, and verified on the verify threads (reverb's consumer path).
//   end_to_end  claims/s through JetStream (a publisher thread stores them) taken out by reverb's
//               durable (AckAll), beside bare durables that only ack: AckAll (baseline), explicit.
//   rollup      closing downbeat to published report at 0 (baseline), 1,000 and 10,000 agents.
//   memory      bytes per agent in one open window (100,000 agents x 8 claims).
//   history     /api/v1/reports?from_beat= over 1,000,000 stored reports: query time beside a
//               single MSG.GET lookup (baseline).
// BENCH_SECONDS set: short mode (fewer claims, agents and reports; it says so). BENCH_JSON=file:
// the summary as JSON (keys of earlier runs kept: ingest.verified_per_s, end_to_end.per_s ...).
//   durability  on a 3-node cluster (R3 claim stream), with the servers' default sync_interval and
//               with sync_interval: always (fsync before every acknowledgement): the SDK's claim
//               acknowledgement latency (emitStatusClaim resolved, one at a time) and claims/s end
//               to end (acknowledged publishes taken out and counted by reverb).
// BENCH_ONLY=history (or a comma list of memory, verify, ingest, end_to_end, rollup, history, durability):
// only those sections (default: all).
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { windowId, windowIdForBeat } from '@backbeat/core';
import { NatsCluster, NatsServer } from '@backbeat/testing';
import { MemoryBus, NatsBus, reportStreamConfig, statusStreamConfig, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { createClient, publicKeyBase64 } from '@backbeat/sdk';
import { ED25519_BACKEND, Reverb, TrustStore, VerifyPool, WindowAggregation, readReports } from '@backbeat/reverb';
import { summary } from './lib.mjs';

const short = process.env.BENCH_SECONDS !== undefined;
const N = Number(process.env.BENCH_CLAIMS ?? (short ? 20_000 : 100_000));
const AGENTS_MEM = short ? 20_000 : 100_000;
const REPORTS = short ? 20_000 : 1_000_000;
const enc = new TextEncoder();
const dec = new TextDecoder();
const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim());
const section = (name) => only === undefined || only.includes(name);
const results = { mode: short ? 'short' : 'full', ...(only ? { only } : {}) };
const perS = (n, ms) => Math.round(n / (ms / 1000));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function claims(count, beat, agents, keys, cluster = 'bench') {
  const out = [];
  for (let i = 0; i < count; i++) {
    const agent = `agent:a${i % agents}`;
    const data = enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: beat, state: i % 9 === 0 ? 'completed' : 'executing', hlc: `18bcfe56800:${i.toString(16).padStart(4, '0')}:abcd`, progress: 0.5 }));
    const headers = { 'x-agent-id': agent, 'x-window-id': windowIdForBeat(cluster, beat, 8) };
    if (keys) headers['x-signature'] = sign(null, data, keys[i % agents]).toString('base64');
    out.push({ data, headers });
  }
  return out;
}

// 0. Memory (first, before other sections leave garbage): one open window, AGENTS_MEM agents x 8 claims (as parsed from JSON), retained after GC.
if (section('memory')) {
  const gc = globalThis.gc ?? (() => {});
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = 0;
  const win = new WindowAggregation('w', 0, 8, Date.now());
  for (let b = 0; b < 8; b++) {
    for (let a = 0; a < AGENTS_MEM; a++) {
      const c = JSON.parse(`{"type":"backbeat.statusclaim.v1","agent_id":"agent:m${a}","beat_index":${b},"state":"executing","hlc":"18bcfe568${b}0:0000:${a.toString(16).padStart(5, '0')}"}`);
      win.add(c, true, Date.now(), b * AGENTS_MEM + a + 1);
    }
    peak = Math.max(peak, process.memoryUsage().heapUsed - before);
  }
  gc();
  const retained = process.memoryUsage().heapUsed - before;
  results.memory = { agents: win.agents, claims_per_agent: 8, retained_mb: Math.round(retained / 1e6), bytes_per_agent: Math.round(retained / win.agents), peak_heap_mb: Math.round(peak / 1e6), gc: globalThis.gc !== undefined };
}

// 1. Verify: node:crypto (baseline), node:crypto across worker threads, sodium-native.
const agents = 1000;
const keys = section('verify') || section('ingest') ? Array.from({ length: agents }, () => generateKeyPairSync('ed25519').privateKey) : [];
const trust = TrustStore.parse(JSON.stringify({ agents: Object.fromEntries(keys.map((k, i) => [`agent:a${i}`, [publicKeyBase64(k)]])) }));
const signed = keys.length > 0 ? claims(Math.min(N, 50_000), 3, agents, keys) : [];
if (section('verify')) {
  const pubs = keys.map((k) => Buffer.from(publicKeyBase64(k), 'base64'));
  const sample = signed.slice(0, Math.min(signed.length, 20_000)).map((c, i) => ({ msg: c.data, sig: Buffer.from(c.headers['x-signature'], 'base64'), pub: pubs[i % agents] }));
  const keyObjects = keys.map((k) => ({ format: 'jwk', key: k.export({ format: 'jwk' }) })).map((j) => ({ ...j, key: { kty: j.key.kty, crv: j.key.crv, x: j.key.x } }));
  const { createPublicKey } = await import('node:crypto');
  const pubKeys = keyObjects.map((j) => createPublicKey(j));
  let t = performance.now();
  for (let i = 0; i < sample.length; i++) if (!verify(null, sample[i].msg, pubKeys[i % agents], sample[i].sig)) throw new Error('verify failed');
  const nodeOne = perS(sample.length, performance.now() - t);
  const { createRequire } = await import('node:module');
  let sodiumOne = null;
  try {
    const sodium = createRequire(import.meta.url)('sodium-native');
    t = performance.now();
    for (const s of sample) if (!sodium.crypto_sign_verify_detached(s.sig, s.msg, s.pub)) throw new Error('sodium verify failed');
    sodiumOne = perS(sample.length, performance.now() - t);
  } catch (err) {
    console.log(`sodium-native not available: ${err.message}`);
  }
  // node:crypto across worker threads: each verifies its share; wall time of all.
  const workers = Math.max(2, availableParallelism());
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createPublicKey, verify } = require('node:crypto');
    const keys = workerData.keys.map((x) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }));
    parentPort.on('message', (items) => {
      let ok = 0;
      for (const it of items) if (verify(null, it.msg, keys[it.k], it.sig)) ok++;
      parentPort.postMessage(ok);
    });`;
  const pool = Array.from({ length: workers }, () => new Worker(code, { eval: true, workerData: { keys: keyObjects.map((j) => j.key.x) } }));
  await Promise.all(pool.map((w) => new Promise((r) => w.once('online', r))));
  // Fresh copies: a small Buffer is a view of Node's 8 KB pool slab, which postMessage would copy whole.
  const shares = pool.map((_, w) => sample.filter((_, i) => i % workers === w).map((s, j) => ({ msg: new Uint8Array(s.msg), sig: new Uint8Array(s.sig), k: (j * workers + w) % agents })));
  t = performance.now();
  const oks = await Promise.all(pool.map((w, i) => new Promise((r) => { w.once('message', r); w.postMessage(shares[i]); })));
  const nodeWorkers = perS(sample.length, performance.now() - t);
  await Promise.all(pool.map((w) => w.terminate()));
  if (oks.reduce((a, b) => a + b, 0) !== sample.length) throw new Error('worker verify failed');
  // Reverb's VerifyPool: the trust store's check (base64 decode, key lookup, ED25519_BACKEND) on `workers` threads.
  const vp = new VerifyPool(workers, trust);
  const checks = signed.slice(0, sample.length).map((c) => [c.headers['x-agent-id'], c.data, c.headers['x-signature']]);
  await vp.check(...checks[0]); // the threads are up
  t = performance.now();
  const verdicts = await Promise.all(checks.map((c) => vp.check(...c)));
  const poolRate = perS(checks.length, performance.now() - t);
  await vp.close();
  if (verdicts.some((x) => !x.ok)) throw new Error('VerifyPool verify failed');
  results.verify = { node_crypto_baseline_per_s: nodeOne, node_crypto_workers_per_s: nodeWorkers, workers, sodium_native_per_s: sodiumOne, verify_pool_per_s: poolRate, backend: ED25519_BACKEND, verifications: sample.length };
}

// 2. Ingestion rate in one process (checks + aggregation), against a bare JSON.parse loop.
if (section('ingest')) {
  const bus = new MemoryBus();
  const unsigned = claims(N, 3, agents);
  const rate = (mode, list) => {
    const r = new Reverb({ bus, clusterId: 'bench', nodeId: `b${mode}`, barLength: 8, signatures: mode, trust, maxWindows: 10, verifyThreads: 0 });
    const t = performance.now();
    for (const c of list) r.ingest(c.data, c.headers, Date.now());
    return perS(list.length, performance.now() - t);
  };
  // Through the verify threads (reverb's consumer path): every claim submitted, then all counted.
  const threaded = async (list) => {
    const r = new Reverb({ bus, clusterId: 'bench', nodeId: 'bthreads', barLength: 8, signatures: 'require', trust, maxWindows: 10 });
    await r.ingestAsync(list[0].data, list[0].headers, Date.now()); // the threads are started
    const t = performance.now();
    const outcomes = await Promise.all(list.slice(1).map((c) => r.ingestAsync(c.data, c.headers, Date.now())));
    const ms = performance.now() - t;
    if (outcomes.some((o) => o !== 'accepted')) throw new Error(`verified ingest: ${outcomes.find((o) => o !== 'accepted')}`);
    await r.stop();
    return { per_s: perS(list.length - 1, ms), threads: r.options.verifyThreads };
  };
  const t = performance.now();
  for (const c of unsigned) JSON.parse(dec.decode(c.data));
  const json = perS(unsigned.length, performance.now() - t);
  const unsignedRate = rate('off', unsigned);
  const mainThread = rate('require', signed);
  const pool = await threaded(signed);
  results.ingest = { json_parse_baseline_per_s: json, unsigned_per_s: unsignedRate, verified_per_s: pool.per_s, verify_threads: pool.threads, verified_main_thread_per_s: mainThread, backend: ED25519_BACKEND };
  await bus.close();
}

const server = await NatsServer.start();
try {
  // 3. End to end through JetStream: a publisher thread (its own connection) stores N claims
  // while a durable takes them out: a bare durable that only acks (baselines: AckAll, reverb's
  // policy, and explicit acks), then reverb's. Each figure is first to last claim handled.
  if (section('end_to_end')) {
    const bus = await NatsBus.connect({ servers: server.url });
    const cluster = 'e2e';
    await bus.ensureStream(statusStreamConfig(cluster));
    const stream = statusStreamConfig(cluster).name;
    const count = Math.min(N, 50_000);
    const publisher = `
      const { workerData, parentPort } = require('node:worker_threads');
      parentPort.once('message', async () => {
        const { NatsBus } = await import('@backbeat/transport');
        const bus = await NatsBus.connect({ servers: workerData.url });
        const enc = new TextEncoder();
        const t = performance.now();
        for (let i = 0; i < workerData.count; i++) {
          const agent = 'agent:a' + (i % 1000);
          const data = enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: 3, state: 'executing', hlc: '18bcfe56800:' + (workerData.run * workerData.count + i).toString(16).padStart(6, '0') + ':abcd' }));
          bus.publish(workerData.subject, data, { headers: { 'x-agent-id': agent } });
          if (i % 2000 === 1999) await bus.flush();
        }
        await bus.flush();
        const ms = performance.now() - t;
        await bus.close();
        parentPort.postMessage(ms);
      });`;
    let run = 0;
    const publishAll = async () => {
      const w = new Worker(publisher, { eval: true, workerData: { url: server.url, count, subject: subjects(cluster).status, run: run++ } });
      const done = new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      w.postMessage('go');
      const ms = await done;
      await w.terminate();
      return ms;
    };
    const measure = async (handled, start) => {
      let first;
      let last;
      const seen = () => {
        last = performance.now();
        first ??= last;
      };
      const stop = await start(seen);
      const publishMs = await publishAll();
      const t = performance.now();
      while (handled() < count && performance.now() - t < 60_000) await sleep(2);
      await stop();
      return { n: handled(), per_s: perS(handled(), last - first), publish_per_s: perS(count, publishMs) };
    };
    const bare = (ackPolicy) => {
      let acked = 0;
      return measure(
        () => acked,
        async (seen) => {
          const c = await bus.consume({ stream, durable: `bare_${ackPolicy}`, ackPolicy, deliverPolicy: 'new', ackWaitMs: 30_000, maxAckPending: 20_000 }, (m) => {
            acked++;
            seen();
            m.ack();
          });
          return () => c.stop();
        },
      );
    };
    const bareExplicit = await bare('explicit');
    const bareAll = await bare('all');
    const r = new Reverb({ bus, clusterId: cluster, nodeId: 'e2e', barLength: 8, signatures: 'off' });
    const total = () => r.windows().reduce((a, w) => a + w.claims + w.rejected, 0);
    const rev = await measure(total, async (seen) => {
      r.onClaim(seen);
      await r.start();
      return () => r.stop();
    });
    results.end_to_end = { claims: rev.n, per_s: rev.per_s, bare_consumer_baseline_per_s: bareAll.per_s, bare_consumer_explicit_ack_per_s: bareExplicit.per_s, publish_per_s: rev.publish_per_s };
    await bus.close();
  }

  // 4. Rollup: closing downbeat to published report, at 0, 1,000 and 10,000 agents.
  if (section('rollup')) {
    const bus = await NatsBus.connect({ servers: server.url });
    const cluster = 'rollup';
    const pulse = new Pulse({ bus, clusterId: cluster, nodeId: 'p', bpm: 120, maxBpm: 600, barLength: 4, elector: 'single' });
    await pulse.start();
    const r = new Reverb({ bus, clusterId: cluster, nodeId: 'roll', signatures: 'off' });
    await r.start();
    const reports = [];
    r.onReport((rep, timing) => reports.push({ ...rep, publishedMs: timing.publishedMs }));
    const waitBeat = async (pred) => {
      while (!pred(r.currentBeat)) await sleep(5);
    };
    results.rollup_ms = {};
    for (const n of short ? [0, 1000] : [0, 1000, 10_000]) {
      await waitBeat((b) => b >= 0 && b % 4 === 0);
      const from = r.currentBeat;
      for (let beat = from; beat < from + 4 && n > 0; beat++) {
        for (let a = 0; a < n; a++) {
          r.ingest(enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: `agent:r${a}`, beat_index: beat, state: beat === from + 3 ? 'completed' : 'executing', hlc: `18bcfe56800:${beat.toString(16).padStart(4, '0')}:${a.toString(16).padStart(4, '0')}` })), {}, Date.now());
        }
      }
      while (!reports.some((x) => x.from_beat === from)) await sleep(5);
      const rep = reports.find((x) => x.from_beat === from);
      results.rollup_ms[n === 0 ? 'empty_bar_baseline' : `${n}_agents`] = { rollup_ms: Math.round(rep.publishedMs * 1000) / 1000, built_ms: rep.performance.rollup_ms, agents_reporting: rep.agents_reporting, claims: rep.performance.claims_processed };
    }
    await r.stop();
    await pulse.stop();
    await bus.close();
  }

  // 6. History: REPORTS stored reports, queries by from_beat (limit 100) beside one MSG.GET.
  // query_ms: right after the baseline lookup at the same place (its file block in the
  // server's cache); query_unwarmed_ms: at another random place, before any lookup there;
  // steps_ms: the query's two rounds on their own (first and last report in parallel, then
  // the reader of limit + 5 reports), after the query.
  if (section('history')) {
    const bus = await NatsBus.connect({ servers: server.url });
    const cluster = 'hist';
    await bus.ensureStream(reportStreamConfig(cluster));
    const t0 = performance.now();
    for (let i = 0; i < REPORTS; i++) {
      const from = i * 4;
      const rep = { type: 'backbeat.barreport.v1', cluster_id: cluster, window_id: windowId(cluster, from), from_beat: from, to_beat: from + 3, agents_reporting: 5, on_time_reviews: 5, help_promises_fulfilled: 0, secret_rotations_ok: true, tempo_drift_ms: 0.1, issues: [] };
      bus.publish(subjects(cluster).reportStore, enc.encode(JSON.stringify(rep)));
      if (i % 10_000 === 9999) await bus.flush();
    }
    await bus.flush();
    const stream = reportStreamConfig(cluster).name;
    while ((await bus.streamState(stream)).messages < REPORTS) await sleep(50);
    const storeS = (performance.now() - t0) / 1000;
    const queries = short ? 100 : 300;
    const lookup = [];
    const query = [];
    const unwarmed = [];
    const lookups = [];
    const reader = [];
    let wrong = 0;
    const timed = async (list, f) => {
      const t = performance.now();
      const r = await f();
      list.push(performance.now() - t);
      return r;
    };
    const check = (page, i) => page.reports[0]?.from_beat !== i * 4 || page.reports.length !== 100;
    for (let q = 0; q < queries; q++) {
      const i = Math.floor(Math.random() * (REPORTS - 100));
      const j = Math.floor(Math.random() * (REPORTS - 100));
      if (check(await timed(unwarmed, () => readReports(bus, cluster, { fromBeat: j * 4, limit: 100 })), j)) wrong++;
      await timed(lookup, () => bus.getStreamMsg(stream, { seq: i + 1 }));
      if (check(await timed(query, () => readReports(bus, cluster, { fromBeat: i * 4, limit: 100 })), i)) wrong++;
      await timed(lookups, () => Promise.all([bus.getStreamMsg(stream, { seq: 1 }), bus.getStreamMsg(stream, { lastBySubject: subjects(cluster).reportStore })]));
      await timed(reader, () => bus.readStream({ stream, fromSeq: Math.max(1, i - 1), limit: 105 }));
    }
    results.history = {
      reports: REPORTS,
      queries,
      checked: queries * 2,
      wrong_answers: wrong,
      store_s: Math.round(storeS),
      query_ms: summary(query),
      single_lookup_baseline_ms: summary(lookup),
      query_unwarmed_ms: summary(unwarmed),
      steps_ms: { first_last_lookups: summary(lookups), reader_105: summary(reader) },
    };
    await bus.close();
  }
} finally {
  await server.stop();
}

// 6. What durability costs: the same claims on a 3-node cluster, default sync against fsync on
// every write (deploy/nats/nats-server.conf runs `sync_interval: always`).
if (section('durability')) {
  results.durability = {};
  const acks = short ? 200 : 2000;
  const e2e = short ? 2000 : 20_000;
  for (const mode of ['default', 'always']) {
    const cluster = await NatsCluster.start(3, { name: `dur-${mode}`, ...(mode === 'always' ? { jetstreamConfig: 'sync_interval: always' } : {}) });
    try {
      const bus = await NatsBus.connect({ servers: cluster.urls });
      const clusterId = `dur${mode}`;
      await bus.ensureStream(statusStreamConfig(clusterId, { replicas: 3 }));
      // The SDK's acknowledgement latency: emitStatusClaim to its resolution, one claim at a time.
      const client = createClient({ clusterId, agentId: 'agent:bench', bus });
      await client.start();
      const lat = [];
      for (let i = 0; i < acks; i++) {
        const t = performance.now();
        await client.emitStatusClaim({ state: 'executing', beatIndex: 1 + (i % 7) });
        lat.push(performance.now() - t);
      }
      await client.stop();
      // End to end: acknowledged publishes (64 in flight) taken out and counted by reverb.
      const r = new Reverb({ bus, clusterId, nodeId: 'dur', barLength: 8, signatures: 'off', replicas: 3 });
      let handled = 0;
      let first;
      let last;
      r.onClaim(() => {
        handled++;
        last = performance.now();
        first ??= last;
      });
      await r.start();
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < e2e) {
          const i = next++;
          const agent = `agent:a${i % 500}`;
          const data = enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: 9, state: 'executing', hlc: `18bcfe56800:${i.toString(16).padStart(6, '0')}:abcd` }));
          await bus.publishDurable(subjects(clusterId).status, data, { headers: { 'x-agent-id': agent }, msgId: `dur-${mode}-${i}` });
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      const publishMs = performance.now() - t0;
      const until = performance.now() + 60_000;
      while (handled < e2e && performance.now() < until) await sleep(5);
      await r.stop();
      await bus.close();
      results.durability[mode] = { sdk_ack_ms: summary(lat), end_to_end_per_s: perS(handled, last - t0), claims: handled, acked_publish_per_s: perS(e2e, publishMs) };
    } finally {
      await cluster.stop();
    }
  }
}

const f = (n) => (n === null || n === undefined ? 'n/a' : n.toLocaleString('en-US'));
const met = (ok) => (ok ? 'met' : 'NOT met');
const v = results.verify;
console.log(`\nreverb bench (${results.mode} mode${short ? ': fewer claims, agents and reports than the targets name' : ''}${only ? `; only ${only.join(', ')}` : ''})`);
if (v) {
  console.log('\nEd25519 verify (one process)');
  console.log(`  node:crypto, one core (baseline)   ${f(v.node_crypto_baseline_per_s)} /s`);
  console.log(`  node:crypto, ${v.workers} worker threads      ${f(v.node_crypto_workers_per_s)} /s`);
  console.log(`  libsodium (sodium-native), one core ${f(v.sodium_native_per_s)} /s   (reverb uses ${v.backend})`);
  console.log(`  reverb VerifyPool, ${v.workers} threads        ${f(v.verify_pool_per_s)} /s   (${v.backend} on each)`);
}
const ing = results.ingest;
const e = results.end_to_end;
if (ing || e) console.log('\nIngestion (one process)');
if (ing) {
  console.log(`  JSON.parse only (baseline)   ${f(ing.json_parse_baseline_per_s)} claims/s`);
  console.log(`  reverb, unsigned             ${f(ing.unsigned_per_s)} claims/s`);
  console.log(`  reverb, verified on the main thread   ${f(ing.verified_main_thread_per_s)} claims/s`);
  console.log(`  reverb, verified on ${ing.verify_threads} verify threads ${f(ing.verified_per_s)} claims/s   (target >= 25,000: ${met(ing.verified_per_s >= 25_000)})`);
}
if (e) {
  console.log(`  bare durable consumer, explicit acks  ${f(e.bare_consumer_explicit_ack_per_s)} claims/s`);
  console.log(`  bare durable consumer, AckAll (baseline) ${f(e.bare_consumer_baseline_per_s)} claims/s`);
  console.log(`  end to end from JetStream    ${f(e.per_s)} claims/s (${f(e.claims)} claims, unsigned, published at ${f(e.publish_per_s)}/s; target >= 60,000: ${met(e.per_s >= 60_000)})`);
}
if (results.rollup_ms) {
  console.log('\nRollup: closing downbeat to published report');
  for (const [k, x] of Object.entries(results.rollup_ms)) console.log(`  ${k.padEnd(20)} ${String(x.rollup_ms).padStart(8)} ms published (${x.built_ms} ms built; ${x.agents_reporting} agents, ${x.claims} claims)`);
}
const m = results.memory;
if (m) {
  console.log(`\nMemory: one open window, ${f(m.agents)} agents x 8 claims`);
  console.log(`  ${f(m.bytes_per_agent)} bytes per agent retained (${m.retained_mb} MB; peak ${m.peak_heap_mb} MB; target <= 1,024 bytes: ${met(m.bytes_per_agent <= 1024)})${m.gc ? '' : ' (no --expose-gc: includes garbage)'}`);
}
const h = results.history;
if (h) {
  const row = (name, x, extra = '') => console.log(`  ${name.padEnd(40)} p50 ${String(x.p50).padStart(7)} ms  p95 ${String(x.p95).padStart(7)} ms  p99 ${String(x.p99).padStart(7)} ms${extra}`);
  console.log(`\nHistory: ${f(h.reports)} stored reports (stored in ${h.store_s} s), ${h.queries} x 2 queries from_beat=..&limit=100, ${h.wrong_answers} of ${h.checked} wrong`);
  row('single MSG.GET lookup (baseline)', h.single_lookup_baseline_ms);
  row('report query (after that lookup)', h.query_ms, `   (target p99 <= 20 ms: ${met(h.query_ms.p99 <= 20)})`);
  row('report query (another place, unwarmed)', h.query_unwarmed_ms);
  row('  step: first + last report (parallel)', h.steps_ms.first_last_lookups);
  row('  step: reader of 105 reports', h.steps_ms.reader_105);
}
const d = results.durability;
if (d) {
  console.log('\nDurability: 3-node cluster, R3 claim stream, sync_interval default against always');
  for (const [mode, x] of Object.entries(d)) {
    console.log(`  ${mode.padEnd(8)} SDK claim ack p50 ${x.sdk_ack_ms.p50} ms  p99 ${x.sdk_ack_ms.p99} ms   end to end ${f(x.end_to_end_per_s)} claims/s (${f(x.claims)} claims; acknowledged publishes ${f(x.acked_publish_per_s)}/s)`);
  }
}
console.log(`\n${JSON.stringify(results)}`);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(results, null, 2)}\n`);
