#!/usr/bin/env node
// @ts-check
/**
 * The chaos suite (`npm run chaos`): a 3-node NATS JetStream cluster with R3 buckets and
 * streams, 2 pulses, 2 reverbs, agents, wire recorders and SDK clients, then each fault in
 * turn, measured from a quiet start to a settled end:
 *   kill -9 of each NATS node in turn (the lease bucket's stream leader first), each brought
 *   back before the next; a rolling restart of all three; a full NATS outage of 10 s; kill -9
 *   and SIGSTOP of the leading pulse; kill -9 of a reverb.
 * Prints one table and exits 1 when any count is not zero, claims acknowledged over the run
 * differ from claims counted in reports (late ones included), a bar has not exactly one report, or a beat gap exceeds
 * its bound (lease TTL + 1 s; for the full outage, the outage, plus the time the cluster takes from
 * starting its servers again until the lease bucket takes a write (printed, and in the JSON), plus TTL + 1 s). Loopback
 * only, bounded in time (about four minutes), and every process it started is stopped, also on failure or SIGINT.
 *
 * Environment: BENCH_JSON=<file> writes the rows as JSON; CHAOS_FAULTS=a,b runs only those
 * faults (names as in the table); CHAOS_SETTLE_MS (default 6000) is the observation after
 * each recovery; CHAOS_TAILS=<n> prints the last n lines of every process at the end.
 */
import { writeFileSync } from 'node:fs';
import { waitFor } from '@backbeat/testing';
import { startFleet, DEFAULTS } from './chaos/fleet.mjs';
import { claimTotals, formatTable, measure, rowOk, startObservers } from './chaos/observe.mjs';
import { formatFreshStart, freshStart } from './chaos/fresh-start.mjs';

// CHAOS_MODE=partition: the same suite on hosts of their own (scripts/chaos/partition.mjs).
if (process.env.CHAOS_MODE === 'partition') {
  await import('./chaos/partition.mjs');
  await new Promise(() => {}); // partition.mjs exits by itself
}

const settleMs = Number(process.env.CHAOS_SETTLE_MS ?? 6000);
const only = process.env.CHAOS_FAULTS ? new Set(process.env.CHAOS_FAULTS.split(',')) : undefined;
const deadline = Date.now() + 8 * 60_000; // hard bound of the whole run
/** @param {string} line */
const log = (line) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
/**
 * The fault's own duration (a node stays down, a process stays stopped): part of the fault, not a wait for a condition.
 */
/** @param {number} ms @returns {Promise<void>} */
const hold = (ms) => new Promise((r) => setTimeout(r, ms));

/** @type {Awaited<ReturnType<typeof startFleet>> | undefined} */
let fleet;
/** @type {Awaited<ReturnType<typeof startObservers>> | undefined} */
let obs;
let stopping = false;
async function cleanup() {
  if (stopping) return;
  stopping = true;
  await obs?.stop().catch(() => {});
  await fleet?.stop().catch(() => {});
}
// A watchdog for the hard bound: a step that hangs (a call with no answer) cannot hold the run.
setTimeout(
  () => {
    log(`the run passed its hard bound of 8 minutes: stopping every process${fleet ? `\n${fleet.tails(15)}` : ''}`);
    void cleanup().finally(() => process.exit(1));
  },
  deadline - Date.now() + 30_000,
).unref();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: stopping every process`);
    void cleanup().finally(() => process.exit(130));
  });
}

const bound = DEFAULTS.leaseTtlMs + 1000;
/** The fleet and its observers, once started (every fault runs after that). */
const running = () => {
  if (!fleet?.cluster || !fleet.bus || !obs) throw new Error('the fleet is not started');
  return { fleet, obs, cluster: fleet.cluster, bus: fleet.bus };
};
const lastFrameAt = () => Math.max(0, ...running().obs.recorders.flatMap((r) => r.frames.slice(-1).map((f) => f.at)));
const lastBeat = () => Math.max(-1, ...running().obs.recorders.flatMap((r) => r.frames.map((f) => f.beat)));
/** Waits until frames flow again (at most 30 s), then observes for the settle time. */
async function settle() {
  const t = Date.now();
  await waitFor(() => lastFrameAt() > t, {
    timeoutMs: 30_000,
    intervalMs: 50,
    message: 'frames on the wire again',
  }).catch((e) => log(/** @type {Error} */ (e).message));
  await hold(settleMs);
}

/**
 * @typedef {object} Fault
 * @property {string} name
 * @property {number} [boundMs] the bound of the beat gap, when not TTL + 1 s
 * @property {(ctx: { firstKilled?: number }) => Promise<unknown>} run
 */

/** @type {Fault[]} */
const faults = [
  {
    name: 'nats kill -9 (lease stream leader)',
    run: async () => {
      const i = await running().fleet.leaseStreamLeader();
      log(`kill -9 nats node ${i} (leads KV_backbeat_${DEFAULTS.clusterId}_lease)`);
      await running().cluster.kill(i);
      await hold(5000);
      await running().cluster.restart(i);
      return i;
    },
  },
  ...[1, 2].map((k) => ({
    name: `nats kill -9 (node +${k})`,
    /** @param {{ firstKilled?: number }} ctx */
    run: async (ctx) => {
      const i = ((ctx.firstKilled ?? 0) + k) % 3;
      log(`kill -9 nats node ${i}`);
      await running().cluster.kill(i);
      await hold(5000);
      await running().cluster.restart(i);
    },
  })),
  {
    name: 'nats rolling restart',
    run: async () => {
      for (let i = 0; i < 3; i++) {
        log(`rolling restart: node ${i}`);
        await running().cluster.restart(i);
        await running().cluster.waitForStreamCurrent(`KV_backbeat_${DEFAULTS.clusterId}_lease`, 3, 30_000);
      }
    },
  },
  {
    name: 'nats full outage 10 s',
    // The outage, plus the cluster's own restart after a cold start of every node (measured
    // below: from starting the servers until the lease bucket takes a write), plus TTL + 1 s. While the lease KV cannot
    // answer, no node may take the lease, and a leader whose connection was gone has no
    // evidence that nobody else did (docs/decisions/0002-kv-outage-grace.md).
    boundMs: 10_000 + bound,
    run: async () => {
      log('full outage: kill -9 of every node for 10 s');
      await running().cluster.killAll();
      await hold(10_000);
      const up = Date.now();
      await running().cluster.startAll();
      const started = Date.now() - up;
      const kv = await waitFor(
        () =>
          running()
            .bus.kv(`backbeat_${DEFAULTS.clusterId}_lease`, { create: false, timeoutMs: 500 })
            .catch(() => null),
        { timeoutMs: 60_000, intervalMs: 100, message: 'the lease bucket after the restart' },
      );
      // A write (reads are served by any replica before the stream has a leader again).
      const probe = new TextEncoder().encode('chaos');
      await waitFor(
        () =>
          kv.put('chaos-probe', probe).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 60_000, intervalMs: 100, message: 'a write to the lease bucket after the restart' },
      );
      const jsRecoveryMs = Date.now() - up;
      log(
        `full outage: the nodes started again in ${started} ms; the lease bucket ` +
          `took a write ${jsRecoveryMs} ms after the restart began`,
      );
      return { boundMs: 10_000 + jsRecoveryMs + bound, jsRecoveryMs };
    },
  },
  {
    name: 'pulse kill -9 (leader)',
    run: async () => {
      const id = await running().fleet.leader();
      if (!id) throw new Error('no pulse holds the lease');
      log(`kill -9 of the leading pulse ${id}`);
      running().fleet.kill(id);
      await hold(4000);
      await running().fleet.restart(id);
    },
  },
  {
    name: 'pulse SIGSTOP (leader)',
    run: async () => {
      const id = await running().fleet.leader();
      if (!id) throw new Error('no pulse holds the lease');
      log(`SIGSTOP of the leading pulse ${id} for 5 s`);
      running().fleet.kill(id, 'SIGSTOP');
      await hold(5000);
      running().fleet.kill(id, 'SIGCONT');
    },
  },
  {
    name: 'reverb kill -9',
    run: async () => {
      log('kill -9 of reverb r1 for 4 s');
      running().fleet.kill('r1');
      await hold(4000);
      await running().fleet.restart('r1');
    },
  },
];

let exitCode = 1;
/** The fresh-cluster row (its own cluster, before the main fleet); CHAOS_FAULTS selects it by its name. */
let fresh;
try {
  if (!only || only.has('fresh cluster concurrent start')) {
    log('fresh cluster: 3 nats-servers just started, 2 pulses and 2 reverbs spawned at the same instant');
    fresh = await freshStart({ log });
    process.stdout.write(`\n${formatFreshStart(fresh)}\n`);
    if (only && only.size === 1) {
      exitCode = fresh.ok ? 0 : 1;
      throw Object.assign(new Error('done'), { done: true });
    }
  }
  const fl = await startFleet({ log });
  fleet = fl;
  const ob = await startObservers({ urls: fl.urls, clusterId: DEFAULTS.clusterId });
  obs = ob;
  await waitFor(() => ob.recorders.some((r) => r.reports.length > 0), {
    timeoutMs: 40_000,
    intervalMs: 100,
    message: 'the first bar report',
  }).catch((e) => {
    throw new Error(`${e.message}\n${fl.tails()}`);
  });
  const deadAtStart = fl.dead();
  if (deadAtStart.length > 0)
    throw new Error(
      `a service exited while the fleet started: ${deadAtStart.map((d) => `${d.id}: ${d.tail}`).join('; ')}`,
    );
  log('fleet up: frames and reports flow');
  const replicas = await fl.replicas();
  log(
    `replicas: ${Object.entries(replicas)
      .map(([n, r]) => `${n}=${r}`)
      .join(' ')}`,
  );
  const notR3 = Object.entries(replicas).filter(([, r]) => r !== DEFAULTS.replicas);
  if (notR3.length > 0)
    log(`NOT at ${DEFAULTS.replicas} replicas: ${notR3.map(([n]) => n).join(', ')} (the run fails)`);
  /**
   * @type {Array<{ fault: string, from: number, to: number, boundMs: number, jsRecoveryMs?: number, bar: number,
   *   died: string[] }>}
   */
  const phases = [];
  /** @type {{ firstKilled?: number }} */
  const ctx = {};
  for (const f of faults) {
    if (only && !only.has(f.name)) continue;
    if (Date.now() > deadline) {
      log(`time bound reached: ${f.name} not run`);
      break;
    }
    await fl.waitReady().catch((e) => log(`not every service is up before '${f.name}': ${e.message.split('\n')[0]}`));
    // Each fault starts from the placed steady state the leading pulse keeps; a wait for it is printed.
    const placedMs = await fl.placed().catch((e) => log(`before '${f.name}': ${e.message}`));
    if (placedMs) log(`before '${f.name}': streams placed after ${placedMs} ms more`);
    await hold(1000); // a quiet second before the fault, inside the measured window
    const from = Date.now() - 1000;
    let boundMs = f.boundMs ?? bound;
    /** @type {number | undefined} */
    let jsRecoveryMs;
    try {
      const r = await f.run(ctx);
      if (f.name.includes('lease stream leader') && typeof r === 'number') ctx.firstKilled = r;
      if (r && typeof r === 'object' && 'boundMs' in r && typeof r.boundMs === 'number') {
        boundMs = r.boundMs;
        jsRecoveryMs = 'jsRecoveryMs' in r && typeof r.jsRecoveryMs === 'number' ? r.jsRecoveryMs : undefined;
      }
    } catch (err) {
      log(`${f.name}: the fault could not be run: ${/** @type {Error} */ (err).message}`);
    }
    await settle();
    const died = fl.dead();
    for (const d of died) log(`${f.name}: ${d.id} exited on its own: ${d.tail}; restarting it`);
    for (const d of died) await fl.restart(d.id);
    phases.push({
      fault: f.name,
      from,
      to: Date.now(),
      boundMs,
      jsRecoveryMs,
      bar: DEFAULTS.bar,
      died: died.map((d) => d.id),
    });
  }
  // Let the last bar's report arrive, then read what was acknowledged.
  await hold(DEFAULTS.bar * (60_000 / DEFAULTS.bpm) + 1000);
  const stored = await ob.storedClaims(running().bus);
  const rows = phases.map((p) => measure(ob, stored, p, lastBeat()));
  process.stdout.write(`\n${formatTable(rows)}\n`);
  const claims = claimTotals(ob, rows);
  process.stdout.write(
    `\nclaims over the run (${claims.bars} bars): acknowledged ${claims.acked}, ` +
      `counted ${claims.counted} + late ${claims.late}: ${claims.ok ? 'every one counted' : 'NOT as acknowledged'}\n`,
  );
  const probes = ob.probes
    .map((p) => `${p.client.options?.agentId ?? 'sdk'}: ${p.acked} claims acknowledged, ${p.failed} failed`)
    .join('; ');
  process.stdout.write(`\nSDK probes: ${probes}\n`);
  const reasons = [...new Set(ob.probes.flatMap((p) => p.failures.map((/** @type {Error} */ f) => f.message)))];
  if (reasons.length > 0) process.stdout.write(`SDK claim failures: ${reasons.slice(0, 5).join(' | ')}\n`);
  if (process.env.BENCH_JSON)
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ suite: 'chaos', settings: { ...DEFAULTS, settleMs }, fresh, rows, claims }, null, 2),
    );
  for (const r of rows.filter((x) => !rowOk(x))) {
    const bad = r.bars_detail.filter((b) => b.reports !== 1);
    for (const b of bad)
      log(
        `${r.fault}: bar ${b.from_beat}: ${b.reports} report(s), ` +
          `claims acknowledged ${b.claims_acked}, counted ${b.claims_counted ?? 'no report'}`,
      );
  }
  if (process.env.CHAOS_TAILS) process.stderr.write(`${fl.tails(Number(process.env.CHAOS_TAILS) || 40)}\n`);
  if (!claims.ok)
    for (const r of rows)
      for (const b of r.bars_detail.filter((x) => x.claims_acked !== x.claims_counted))
        log(
          `${r.fault}: bar ${b.from_beat}: ` +
            `claims acknowledged ${b.claims_acked}, counted ${b.claims_counted ?? 'no report'}`,
        );
  exitCode = rows.length > 0 && rows.every(rowOk) && claims.ok && notR3.length === 0 && (fresh?.ok ?? true) ? 0 : 1;
  if (exitCode !== 0) log('some faults broke a guarantee (rows with ok = NO)');
} catch (err) {
  const e = /** @type {Error & { done?: boolean }} */ (err);
  if (!e.done) log(`chaos run failed: ${e.stack ?? e}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
