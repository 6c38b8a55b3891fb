// @ts-check
// The human summary of bench/sdk.mjs: each figure beside its baseline and its target.
import { writeFileSync } from 'node:fs';
import { printTable } from '../lib.mjs';

/**
 * What the benchmark measured.
 * @typedef {object} SdkBenchResult
 * @property {number} seconds
 * @property {boolean} short
 * @property {number} latency_seconds
 * @property {number} perconn_seconds
 * @property {{ sdk: import('../lib.mjs').Summary,
 *   bare_subscription: import('../lib.mjs').Summary }} [callback_latency_ms]
 * @property {Record<string, Awaited<ReturnType<typeof import('./fanout.mjs').fanout>>>} fanout
 * @property {{ seconds: number, local_slots: number, grid_error_ms: import('../lib.mjs').Summary,
 *   local_fire_lateness_ms: import('../lib.mjs').Summary, settimeout_chain_lateness_ms_at_end: number }} [degradation]
 */

/**
 * Prints the tables and the one-line JSON.
 * @param {SdkBenchResult} result
 */
export function report(result) {
  const latency = result.callback_latency_ms;
  if (!latency) throw new Error('no callback latency was measured');
  printTable(
    'Callback latency: callback time - frame receipt, one client at 240 BPM (target p99 <= 0.2 ms; seed <= 5 ms)',
    [
      { name: 'SDK onPhase', ...latency.sdk },
      { name: 'bare subscription + JSON.parse', ...latency.bare_subscription },
    ],
  );
  /** @type {Record<string, string>} */
  const label = {
    shared: 'SDK frames, 1 conn/process',
    bare: 'bare subscriptions (baseline)',
    grid: 'SDK grid, 1 conn/process',
    grid10k: 'SDK grid, 10,000 in 8 processes',
    loop: 'no-op callbacks, 1 timer/process (grid baseline)',
    conn: 'SDK frames, 1 conn/client',
  };
  const fan = Object.values(result.fanout);
  printTable(
    'Fan-out at 120 BPM: receipt - scheduled time of leader frames (target p95 <= 2 ms)',
    fan
      .filter((f) => f.delivery_ms.n > 0)
      .map((f) => ({ name: `${label[f.mode]}, ${f.clients} clients, ${f.seconds} s`, ...f.delivery_ms })),
  );
  printTable(
    'Fan-out: callback time - scheduled time (grid target p99 <= 0.5 ms, below the bare subscription)',
    fan.map((f) => ({ name: `${label[f.mode]}, ${f.clients} clients, ${f.seconds} s`, ...f.callback_ms })),
  );
  console.log('\nSlots per variant (target: nothing missed, no duplicates):');
  for (const f of fan) {
    console.log(
      `  ${label[f.mode].padEnd(32)} expected ${f.expected_per_client} x ${f.clients} clients; leader ` +
        `${f.fired_leader}, grid ${f.fired_grid}, local ${f.fired_local}, duplicates ${f.duplicates}, ` +
        `missed ${f.missed}; startup ${f.startup_s} s, rss <= ${f.rss_mb_per_process} MB/process, cpu ` +
        `<= ${f.cpu_ms_per_s_per_process} ms/s per process`,
    );
  }
  if (!result.fanout.conn)
    console.log('  SDK, 1 connection per client: skipped (BENCH_PERCONN_SECONDS=0, its default in short mode)');
  if (!result.fanout.grid10k)
    console.log('  SDK grid, 10,000 in 8 processes: skipped in short mode (BENCH_SECONDS < 10)');
  if (result.degradation) {
    const d = result.degradation;
    printTable(`Local degradation for ${d.seconds} s without a leader (target: on the leader's grid within 1 ms)`, [
      { name: 'local slot - leader grid', ...d.grid_error_ms },
      { name: 'fire time - (slot + 50 ms)', ...d.local_fire_lateness_ms },
    ]);
    console.log(
      `baseline: a setTimeout(500 ms) chain is ${d.settimeout_chain_lateness_ms_at_end} ms late after ${d.seconds} s`,
    );
  } else {
    console.log('\nLocal degradation: skipped (BENCH_DEGRADE_SECONDS=600 runs the 10-minute drift run)');
  }
  console.log(`\n${JSON.stringify(result)}`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(result, null, 2)}\n`);
}
