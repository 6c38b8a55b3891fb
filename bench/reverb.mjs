#!/usr/bin/env node
// npm run bench:reverb: reverb's ingestion rate (unsigned and verified), rollup time at
// 1,000 and 10,000 agents, and memory with 100,000 agents over 100 windows. Baselines from
// the same run: a bare JSON.parse loop, and the rollup of an empty bar.
import { generateKeyPairSync, sign } from 'node:crypto';
import { windowIdForBeat } from '@backbeat/core';
import { NatsServer } from '@backbeat/testing';
import { MemoryBus, NatsBus, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { publicKeyBase64 } from '@backbeat/sdk';
import { Reverb, TrustStore, WindowAggregation } from '@backbeat/reverb';

const enc = new TextEncoder();
const N = Number(process.env.BENCH_CLAIMS ?? 100_000);
const results = {};

function claims(count, beat, agents, keys) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const agent = `agent:a${i % agents}`;
    const data = enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: beat, state: i % 9 === 0 ? 'completed' : 'executing', hlc: `18bcfe56800:${i.toString(16).padStart(4, '0')}:abcd`, progress: 0.5 }));
    const headers = { 'x-agent-id': agent, 'x-window-id': windowIdForBeat('bench', beat, 8) };
    if (keys) headers['x-signature'] = sign(null, data, keys[i % agents]).toString('base64');
    out.push({ data, headers });
  }
  return out;
}

// 1. Ingestion rate in one process (checks + aggregation), against a bare JSON.parse loop.
{
  const bus = new MemoryBus();
  const agents = 1000;
  const keys = Array.from({ length: agents }, () => generateKeyPairSync('ed25519').privateKey);
  const trust = TrustStore.parse(JSON.stringify({ agents: Object.fromEntries(keys.map((k, i) => [`agent:a${i}`, [publicKeyBase64(k)]])) }));
  const unsigned = claims(N, 3, agents);
  const signed = claims(Math.min(N, 50_000), 3, agents, keys);
  const rate = (mode, list) => {
    const r = new Reverb({ bus, clusterId: 'bench', nodeId: `b${mode}`, barLength: 8, signatures: mode, trust, maxWindows: 10 });
    const t = performance.now();
    for (const c of list) r.ingest(c.data, c.headers, Date.now());
    return Math.round(list.length / ((performance.now() - t) / 1000));
  };
  const t = performance.now();
  for (const c of unsigned) JSON.parse(new TextDecoder().decode(c.data));
  results.ingest = {
    json_parse_baseline_per_s: Math.round(unsigned.length / ((performance.now() - t) / 1000)),
    unsigned_per_s: rate('off', unsigned),
    verified_per_s: rate('require', signed),
  };
  await bus.close();
}

// 2. End to end through JetStream: claims stored in the stream, then consumed by reverb.
const server = await NatsServer.start();
try {
  {
    const bus = await NatsBus.connect({ servers: server.url });
    const cluster = 'e2e';
    const r = new Reverb({ bus, clusterId: cluster, nodeId: 'e2e', barLength: 8, signatures: 'off' });
    await bus.ensureStream({ name: `BACKBEAT_${cluster}_STATUS`, subjects: [subjects(cluster).status], maxMsgs: 5_000_000, maxAgeMs: 86_400_000, duplicateWindowMs: 120_000 });
    const list = claims(Math.min(N, 50_000), 3, 1000).map((c) => ({ ...c, data: enc.encode(new TextDecoder().decode(c.data).replace('"bench"', `"${cluster}"`)) }));
    for (let i = 0; i < list.length; i++) bus.publish(subjects(cluster).status, list[i].data, { headers: list[i].headers });
    await bus.flush();
    const t = performance.now();
    await r.start();
    const total = () => r.windows().reduce((a, w) => a + w.claims + w.rejected, 0);
    while (total() < list.length && performance.now() - t < 60_000) await new Promise((res) => setTimeout(res, 20));
    results.end_to_end = { claims: total(), per_s: Math.round(total() / ((performance.now() - t) / 1000)) };
    await r.stop();
    await bus.close();
  }

  // 3. Rollup: downbeat frame to published report, at 0, 1,000 and 10,000 agents.
  {
    const bus = await NatsBus.connect({ servers: server.url });
    const cluster = 'rollup';
    const pulse = new Pulse({ bus, clusterId: cluster, nodeId: 'p', bpm: 60, maxBpm: 600, barLength: 4, elector: 'single' });
    await pulse.start();
    const r = new Reverb({ bus, clusterId: cluster, nodeId: 'roll', signatures: 'off' });
    await r.start();
    const reports = [];
    r.onReport((rep, timing) => reports.push({ ...rep, publishedMs: timing.publishedMs }));
    const waitBeat = async (pred) => {
      while (!pred(r.currentBeat)) await new Promise((res) => setTimeout(res, 5));
    };
    results.rollup_ms = {};
    for (const agents of [0, 1000, 10_000]) {
      await waitBeat((b) => b >= 0 && b % 4 === 0);
      const from = r.currentBeat;
      for (let beat = from; beat < from + 4 && agents > 0; beat++) {
        for (let a = 0; a < agents; a++) {
          r.ingest(enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', agent_id: `agent:r${a}`, beat_index: beat, state: beat === from + 3 ? 'completed' : 'executing', hlc: `18bcfe56800:${beat.toString(16).padStart(4, '0')}:${a.toString(16).padStart(4, '0')}` })), {}, Date.now());
        }
      }
      while (!reports.some((x) => x.from_beat === from)) await new Promise((res) => setTimeout(res, 5));
      const rep = reports.find((x) => x.from_beat === from);
      results.rollup_ms[agents === 0 ? 'empty_bar_baseline' : `${agents}_agents`] = { rollup_ms: Math.round(rep.publishedMs * 1000) / 1000, built_ms: rep.performance.rollup_ms, agents_reporting: rep.agents_reporting, claims: rep.performance.claims_processed };
    }
    await r.stop();
    await pulse.stop();
    await bus.close();
  }
} finally {
  await server.stop();
}

// 4. Memory: 100,000 agents over 100 windows (reported windows are sealed to their report).
{
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const windows = [];
  let peak = 0;
  const claim = { type: 'backbeat.statusclaim.v1', agent_id: '', beat_index: 0, state: 'executing', hlc: '' };
  for (let w = 0; w < 100; w++) {
    const win = new WindowAggregation(`w${w}`, w * 8, 8, Date.now());
    for (let a = 0; a < 100_000; a++) win.add({ ...claim, agent_id: `agent:m${a}`, beat_index: w * 8, hlc: `18bcfe56800:${w.toString(16).padStart(4, '0')}:${a.toString(16).padStart(5, '0')}` }, true, Date.now());
    peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    win.seal(win.report('bench', { tempoDriftMs: 0, rollupMs: 0, barLength: 8, generatedAt: Date.now(), hlc: '0000:0000:0000' }), Date.now());
    windows.push(win);
  }
  global.gc?.();
  results.memory = { windows: windows.length, agents_per_window: 100_000, peak_heap_mb: Math.round(peak / 1e6), retained_heap_mb_after_100_windows: Math.round((process.memoryUsage().heapUsed - before) / 1e6) };
}

console.log('\nIngestion (one process)');
console.log(`  JSON.parse only (baseline)   ${results.ingest.json_parse_baseline_per_s.toLocaleString()} claims/s`);
console.log(`  reverb, unsigned             ${results.ingest.unsigned_per_s.toLocaleString()} claims/s   (target >= 50,000)`);
console.log(`  reverb, Ed25519 verified     ${results.ingest.verified_per_s.toLocaleString()} claims/s   (target >= 15,000)`);
console.log(`  end to end from JetStream    ${results.end_to_end.per_s.toLocaleString()} claims/s (${results.end_to_end.claims} claims, durable consumer)`);
console.log('\nRollup: downbeat frame to published report (target <= 20 ms at 10,000 agents)');
for (const [k, v] of Object.entries(results.rollup_ms)) console.log(`  ${k.padEnd(20)} ${String(v.rollup_ms).padStart(8)} ms to published (${v.built_ms} ms to built; ${v.agents_reporting} agents, ${v.claims} claims)`);
console.log('\nMemory: 100,000 agents x 100 windows');
console.log(`  peak heap ${results.memory.peak_heap_mb} MB while a window is open; ${results.memory.retained_heap_mb_after_100_windows} MB retained after 100 sealed windows`);
console.log(`\n${JSON.stringify(results)}`);
