#!/usr/bin/env node
// @ts-check
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
// The sections are in bench/reverb/: in-process.mjs (memory, verify, ingest), jetstream.mjs
// (end_to_end, rollup, history on one nats-server), durability.mjs; print.mjs prints the summary.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { NatsServer } from '@backbeat/testing';
import { TrustStore } from '@backbeat/reverb';
import { publicKeyBase64 } from '@backbeat/sdk';
import { claims } from './reverb/common.mjs';
import { benchDurability } from './reverb/durability.mjs';
import { benchIngest, benchMemory, benchVerify } from './reverb/in-process.mjs';
import { benchEndToEnd, benchHistory, benchRollup } from './reverb/jetstream.mjs';
import { printResults } from './reverb/print.mjs';

const short = process.env.BENCH_SECONDS !== undefined;
const N = Number(process.env.BENCH_CLAIMS ?? (short ? 20_000 : 100_000));
const AGENTS_MEM = short ? 20_000 : 100_000;
const REPORTS = short ? 20_000 : 1_000_000;
const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim());
/** @param {string} name */
const section = (name) => only === undefined || only.includes(name);
/** @type {import('./reverb/print.mjs').ReverbBenchResults} */
const results = { mode: short ? 'short' : 'full', ...(only ? { only } : {}) };

// 0. Memory first, before other sections leave garbage.
if (section('memory')) results.memory = benchMemory(AGENTS_MEM);

// 1. Verify and 2. ingest, in one process: signed claims from 1,000 agents.
const agents = 1000;
const keys =
  section('verify') || section('ingest')
    ? Array.from({ length: agents }, () => generateKeyPairSync('ed25519').privateKey)
    : [];
const trust = TrustStore.parse(
  JSON.stringify({ agents: Object.fromEntries(keys.map((k, i) => [`agent:a${i}`, [publicKeyBase64(k)]])) }),
);
const signed = keys.length > 0 ? claims(Math.min(N, 50_000), 3, agents, keys) : [];
if (section('verify')) results.verify = await benchVerify({ keys, signed, trust, agents });
if (section('ingest')) results.ingest = await benchIngest({ unsigned: claims(N, 3, agents), signed, trust });

// 3. End to end, 4. rollup and 5. history on one nats-server.
const server = await NatsServer.start();
try {
  if (section('end_to_end')) results.end_to_end = await benchEndToEnd(server.url, Math.min(N, 50_000));
  if (section('rollup')) results.rollup_ms = await benchRollup(server.url, short ? [0, 1000] : [0, 1000, 10_000]);
  if (section('history')) results.history = await benchHistory(server.url, REPORTS, short ? 100 : 300);
} finally {
  await server.stop();
}

// 6. What durability costs, on a 3-node cluster.
if (section('durability')) results.durability = await benchDurability(short ? 200 : 2000, short ? 2000 : 20_000);

printResults(results);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(results, null, 2)}\n`);
