// @ts-check
// The summary of bench/pulse.mjs: jitter, delivery, frames sent early, CPU and drift of each
// emitter, the targets met or not; printed, and written to BENCH_JSON when set.
import { writeFileSync } from 'node:fs';
import { printTable, summary } from '../lib.mjs';
import { BPM } from './common.mjs';

/**
 * Prints the bench's figures and writes them to BENCH_JSON when set.
 * @param {number} seconds how long each emitter ran
 * @param {Record<string, import('./common.mjs').ChildReport>} runs each emitter's own report, by run name
 * @param {Record<string, number[] | undefined>} delivered the subscriber's lateness lists, by subject key
 */
export function reportPulseBench(seconds, runs, delivered) {
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
    `CPU at ${BPM} BPM (% of one core): pulse emitter thread ${result.cpu.pulse_emitter_thread_pct.toFixed(2)} ` +
      `(${result.cpu.pulse_emitter_thread_measured_by}; ` +
      `its event loop busy ${result.cpu.pulse_emitter_loop_busy_pct.toFixed(2)} %, blocked waits included) ` +
      `(whole pulse process ${result.cpu.pulse_process_pct.toFixed(2)}), ` +
      `spin process ${result.cpu.spin_process_pct.toFixed(2)}, ` +
      `setInterval process ${result.cpu.setInterval_process_pct.toFixed(2)}`,
  );
  console.log(
    'Drift over the run (mean lateness, first vs last 10 %): ' +
      `pulse ${result.drift.pulse_first10pct_mean_ms.toFixed(3)} -> ` +
      `${result.drift.pulse_last10pct_mean_ms.toFixed(3)} ms; ` +
      `setInterval ${result.drift.setInterval_first10pct_mean_ms.toFixed(3)} -> ` +
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
