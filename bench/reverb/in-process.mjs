// @ts-check
// The sections of bench/reverb.mjs that need no server: memory per agent, Ed25519 verification
// rates and ingestion rates in one process, each beside its plain baseline.
import { createPublicKey, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MemoryBus } from '@backbeat/transport';
import { ED25519_BACKEND, Reverb, VerifyPool, WindowAggregation } from '@backbeat/reverb';
import { publicKeyBase64 } from '@backbeat/sdk';
import { dec, perS } from './common.mjs';

/** @typedef {import('./common.mjs').BenchClaim} BenchClaim */
/** @typedef {import('@backbeat/reverb').TrustStore} TrustStore */

/**
 * Bytes per agent in one open window: `agentsPerWindow` agents x 8 claims (as parsed from
 * JSON), retained after GC (run first, before other sections leave garbage).
 * @param {number} agentsPerWindow
 */
export function benchMemory(agentsPerWindow) {
  /** @type {() => void} */
  const gc = /** @type {any} */ (globalThis).gc ?? (() => {});
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = 0;
  const win = new WindowAggregation('w', 0, 8, Date.now());
  for (let b = 0; b < 8; b++) {
    for (let a = 0; a < agentsPerWindow; a++) {
      const hlc = `18bcfe568${b}0:0000:${a.toString(16).padStart(5, '0')}`;
      const c = JSON.parse(
        `{"type":"backbeat.statusclaim.v1","agent_id":"agent:m${a}","beat_index":${b},` +
          `"state":"executing","hlc":"${hlc}"}`,
      );
      win.add(c, true, Date.now(), b * agentsPerWindow + a + 1);
    }
    peak = Math.max(peak, process.memoryUsage().heapUsed - before);
  }
  gc();
  const retained = process.memoryUsage().heapUsed - before;
  return {
    agents: win.agents,
    claims_per_agent: 8,
    retained_mb: Math.round(retained / 1e6),
    bytes_per_agent: Math.round(retained / win.agents),
    peak_heap_mb: Math.round(peak / 1e6),
    gc: /** @type {any} */ (globalThis).gc !== undefined,
  };
}

/**
 * Ed25519 verifications/s: node:crypto on one core (baseline), node:crypto across worker
 * threads, libsodium (sodium-native) on one core, and reverb's VerifyPool.
 * @param {{ keys: import('node:crypto').KeyObject[], signed: BenchClaim[], trust: TrustStore, agents: number }} input
 */
export async function benchVerify({ keys, signed, trust, agents }) {
  const pubs = keys.map((k) => Buffer.from(publicKeyBase64(k), 'base64'));
  const sample = signed.slice(0, Math.min(signed.length, 20_000)).map((c, i) => ({
    msg: c.data,
    sig: Buffer.from(c.headers['x-signature'] ?? '', 'base64'),
    pub: pubs[i % agents],
  }));
  const jwks = keys.map((k) => {
    const j = k.export({ format: 'jwk' });
    return { kty: j.kty ?? 'OKP', crv: j.crv ?? 'Ed25519', x: j.x ?? '' };
  });
  const pubKeys = jwks.map((key) => createPublicKey({ key, format: 'jwk' }));
  let t = performance.now();
  for (let i = 0; i < sample.length; i++) {
    if (!verify(null, sample[i].msg, pubKeys[i % agents], sample[i].sig)) throw new Error('verify failed');
  }
  const nodeOne = perS(sample.length, performance.now() - t);
  /** @type {number | null} */
  let sodiumOne = null;
  try {
    const sodium = createRequire(import.meta.url)('sodium-native');
    t = performance.now();
    for (const s of sample)
      if (!sodium.crypto_sign_verify_detached(s.sig, s.msg, s.pub)) throw new Error('sodium verify failed');
    sodiumOne = perS(sample.length, performance.now() - t);
  } catch (err) {
    console.log(`sodium-native not available: ${/** @type {Error} */ (err).message}`);
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
  const workerData = { keys: jwks.map((j) => j.x) };
  const pool = Array.from({ length: workers }, () => new Worker(code, { eval: true, workerData }));
  await Promise.all(pool.map((w) => new Promise((r) => w.once('online', r))));
  // Fresh copies: a small Buffer is a view of Node's 8 KB pool slab, which postMessage would copy whole.
  const shares = pool.map((_, w) =>
    sample
      .filter((_, i) => i % workers === w)
      .map((s, j) => ({ msg: new Uint8Array(s.msg), sig: new Uint8Array(s.sig), k: (j * workers + w) % agents })),
  );
  t = performance.now();
  /** @type {number[]} */
  const oks = await Promise.all(
    pool.map(
      (w, i) =>
        new Promise((r) => {
          w.once('message', r);
          w.postMessage(shares[i]);
        }),
    ),
  );
  const nodeWorkers = perS(sample.length, performance.now() - t);
  await Promise.all(pool.map((w) => w.terminate()));
  if (oks.reduce((a, b) => a + b, 0) !== sample.length) throw new Error('worker verify failed');
  // Reverb's VerifyPool: the trust store's check (base64 decode, key lookup, ED25519_BACKEND) on `workers` threads.
  const vp = new VerifyPool(workers, trust);
  /** @type {Array<[string, Uint8Array, string]>} */
  const checks = signed
    .slice(0, sample.length)
    .map((c) => [c.headers['x-agent-id'] ?? '', c.data, c.headers['x-signature'] ?? '']);
  const [first] = checks;
  if (first) await vp.check(...first); // the threads are up
  t = performance.now();
  const verdicts = await Promise.all(checks.map((c) => vp.check(...c)));
  const poolRate = perS(checks.length, performance.now() - t);
  await vp.close();
  if (verdicts.some((x) => !x.ok)) throw new Error('VerifyPool verify failed');
  return {
    node_crypto_baseline_per_s: nodeOne,
    node_crypto_workers_per_s: nodeWorkers,
    workers,
    sodium_native_per_s: sodiumOne,
    verify_pool_per_s: poolRate,
    backend: ED25519_BACKEND,
    verifications: sample.length,
  };
}

/**
 * Claims/s in one process (checks + aggregation), against a bare JSON.parse loop: unsigned,
 * verified on the main thread, and verified on the verify threads (reverb's consumer path).
 * @param {{ unsigned: BenchClaim[], signed: BenchClaim[], trust: TrustStore }} input
 */
export async function benchIngest({ unsigned, signed, trust }) {
  const bus = new MemoryBus();
  /**
   * @param {'off' | 'require'} mode
   * @param {BenchClaim[]} list
   */
  const rate = (mode, list) => {
    const options = { barLength: 8, signatures: mode, trust, maxWindows: 10, verifyThreads: 0 };
    const r = new Reverb({ bus, clusterId: 'bench', nodeId: `b${mode}`, ...options });
    const t = performance.now();
    for (const c of list) r.ingest(c.data, c.headers, Date.now());
    return perS(list.length, performance.now() - t);
  };
  // Through the verify threads (reverb's consumer path): every claim submitted, then all counted.
  /** @param {BenchClaim[]} list */
  const threaded = async (list) => {
    const options = { barLength: 8, signatures: /** @type {const} */ ('require'), trust, maxWindows: 10 };
    const r = new Reverb({ bus, clusterId: 'bench', nodeId: 'bthreads', ...options });
    const [first, ...rest] = list;
    if (!first) throw new Error('no signed claims to ingest');
    await r.ingestAsync(first.data, first.headers, Date.now()); // the threads are started
    const t = performance.now();
    const outcomes = await Promise.all(rest.map((c) => r.ingestAsync(c.data, c.headers, Date.now())));
    const ms = performance.now() - t;
    const refused = outcomes.find((o) => o !== 'accepted');
    if (refused !== undefined) throw new Error(`verified ingest: ${refused}`);
    await r.stop();
    return { per_s: perS(rest.length, ms), threads: r.options.verifyThreads };
  };
  const t = performance.now();
  for (const c of unsigned) JSON.parse(dec.decode(c.data));
  const json = perS(unsigned.length, performance.now() - t);
  const unsignedRate = rate('off', unsigned);
  const mainThread = rate('require', signed);
  const pool = await threaded(signed);
  await bus.close();
  return {
    json_parse_baseline_per_s: json,
    unsigned_per_s: unsignedRate,
    verified_per_s: pool.per_s,
    verify_threads: pool.threads,
    verified_main_thread_per_s: mainThread,
    backend: ED25519_BACKEND,
  };
}
