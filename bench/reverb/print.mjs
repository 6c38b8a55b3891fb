// @ts-check
// The human summary of bench/reverb.mjs: each figure beside its baseline and its target.

/**
 * @typedef {object} ReverbBenchResults
 * @property {'short' | 'full'} mode
 * @property {string[]} [only]
 * @property {ReturnType<typeof import('./in-process.mjs').benchMemory>} [memory]
 * @property {Awaited<ReturnType<typeof import('./in-process.mjs').benchVerify>>} [verify]
 * @property {Awaited<ReturnType<typeof import('./in-process.mjs').benchIngest>>} [ingest]
 * @property {Awaited<ReturnType<typeof import('./jetstream.mjs').benchEndToEnd>>} [end_to_end]
 * @property {Awaited<ReturnType<typeof import('./jetstream.mjs').benchRollup>>} [rollup_ms]
 * @property {Awaited<ReturnType<typeof import('./jetstream.mjs').benchHistory>>} [history]
 * @property {Awaited<ReturnType<typeof import('./durability.mjs').benchDurability>>} [durability]
 */

/** @param {number | null | undefined} n */
const f = (n) => (n === null || n === undefined ? 'n/a' : n.toLocaleString('en-US'));
/** @param {boolean} ok */
const met = (ok) => (ok ? 'met' : 'NOT met');

/** @param {ReverbBenchResults} results */
export function printResults(results) {
  const { only } = results;
  const shortNote = results.mode === 'short' ? ': fewer claims, agents and reports than the targets name' : '';
  console.log(`\nreverb bench (${results.mode} mode${shortNote}${only ? `; only ${only.join(', ')}` : ''})`);
  const v = results.verify;
  if (v) {
    console.log('\nEd25519 verify (one process)');
    console.log(`  node:crypto, one core (baseline)   ${f(v.node_crypto_baseline_per_s)} /s`);
    console.log(`  node:crypto, ${v.workers} worker threads      ${f(v.node_crypto_workers_per_s)} /s`);
    console.log(`  libsodium (sodium-native), one core ${f(v.sodium_native_per_s)} /s   (reverb uses ${v.backend})`);
    console.log(
      `  reverb VerifyPool, ${v.workers} threads        ${f(v.verify_pool_per_s)} /s   (${v.backend} on each)`,
    );
  }
  const ing = results.ingest;
  const e = results.end_to_end;
  if (ing || e) console.log('\nIngestion (one process)');
  if (ing) {
    const target = `(target >= 25,000: ${met(ing.verified_per_s >= 25_000)})`;
    console.log(`  JSON.parse only (baseline)   ${f(ing.json_parse_baseline_per_s)} claims/s`);
    console.log(`  reverb, unsigned             ${f(ing.unsigned_per_s)} claims/s`);
    console.log(`  reverb, verified on the main thread   ${f(ing.verified_main_thread_per_s)} claims/s`);
    console.log(
      `  reverb, verified on ${ing.verify_threads} verify threads ${f(ing.verified_per_s)} claims/s   ${target}`,
    );
  }
  if (e) {
    const detail = `${f(e.claims)} claims, unsigned, published at ${f(e.publish_per_s)}/s`;
    console.log(`  bare durable consumer, explicit acks  ${f(e.bare_consumer_explicit_ack_per_s)} claims/s`);
    console.log(`  bare durable consumer, AckAll (baseline) ${f(e.bare_consumer_baseline_per_s)} claims/s`);
    console.log(
      `  end to end from JetStream    ${f(e.per_s)} claims/s (${detail}; target >= 60,000: ${met(e.per_s >= 60_000)})`,
    );
  }
  if (results.rollup_ms) {
    console.log('\nRollup: closing downbeat to published report');
    for (const [k, x] of Object.entries(results.rollup_ms)) {
      const detail = `${x.built_ms} ms built; ${x.agents_reporting} agents, ${x.claims} claims`;
      console.log(`  ${k.padEnd(20)} ${String(x.rollup_ms).padStart(8)} ms published (${detail})`);
    }
  }
  const m = results.memory;
  if (m) {
    const target = `target <= 1,024 bytes: ${met(m.bytes_per_agent <= 1024)}`;
    const retained = `${m.retained_mb} MB; peak ${m.peak_heap_mb} MB; ${target}`;
    console.log(`\nMemory: one open window, ${f(m.agents)} agents x 8 claims`);
    console.log(
      `  ${f(m.bytes_per_agent)} bytes per agent retained (${retained})` +
        (m.gc ? '' : ' (no --expose-gc: includes garbage)'),
    );
  }
  const h = results.history;
  if (h) {
    /**
     * @param {string} name
     * @param {{ p50: number, p95: number, p99: number }} x
     */
    const row = (name, x, extra = '') => {
      const cols = [x.p50, x.p95, x.p99].map((p) => String(p).padStart(7));
      console.log(`  ${name.padEnd(40)} p50 ${cols[0]} ms  p95 ${cols[1]} ms  p99 ${cols[2]} ms${extra}`);
    };
    const wrong = `${h.wrong_answers} of ${h.checked} wrong`;
    const stored = `${f(h.reports)} stored reports (stored in ${h.store_s} s)`;
    console.log(`\nHistory: ${stored}, ${h.queries} x 2 queries from_beat=..&limit=100, ${wrong}`);
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
      const ack = `SDK claim ack p50 ${x.sdk_ack_ms.p50} ms  p99 ${x.sdk_ack_ms.p99} ms`;
      const e2e = `end to end ${f(x.end_to_end_per_s)} claims/s`;
      const detail = `${f(x.claims)} claims; acknowledged publishes ${f(x.acked_publish_per_s)}/s`;
      console.log(`  ${mode.padEnd(8)} ${ack}   ${e2e} (${detail})`);
    }
  }
  console.log(`\n${JSON.stringify(results)}`);
}
