#!/usr/bin/env node
/**
 * The partition chaos run (`npm run chaos:partition`, or `CHAOS_MODE=partition npm run chaos`):
 * three hosts of their own (network namespaces on a bridge, @backbeat/testing NetCluster),
 * one nats-server per host in one JetStream cluster (R3 state), pulses on h1 and h2, reverbs
 * on h2 and h3, `backbeat agent --count 2` on every host, and on every host a raw wire
 * recorder and an SDK client (scripts/chaos/net-observer.mjs); every process is connected to
 * its own host's NATS node only. Lease TTL 2 s, 120 BPM, 4 beats a bar. Faults, each from a
 * quiet second to a settled end:
 *   (a) the leader's host isolated 10 s (the lease, state and beat streams led from the majority)
 *   (b) the follower's host isolated 10 s (no leader there)
 *   (b2) the same while its NATS node leads the lease and state streams (their elections ridden out)
 *   (c) every TCP connection to the leader's NATS node's client port cut 10 s (routes stay)
 *   (c2) the leader's host isolated 10 s while its NATS node leads the lease and state streams
 *   (d) flapping: the leader's host isolated 5 s, healed, isolated again 1 s later for 5 s
 *   (e) one way: what the leader's host sends is dropped 10 s; what it receives still arrives
 * A cut drops packets (TCP sees silence). Prints one table; BENCH_JSON=<file> writes the rows;
 * CHAOS_FAULTS=a,c2 runs only those; CHAOS_SETTLE_MS (default 6000) is the observation after
 * each heal. Exit code 1 when a row breaks a bound a partition is to meet (rowOk in
 * partition-table.mjs; what is met today: docs/spec.md §7 Election, terms and fencing, Network
 * partitions). Bounded (about six minutes); everything it made is removed, also on failure or
 * SIGINT. The faults are in partition-faults.mjs, the observers' output is parsed in
 * partition-observations.mjs, and the partition columns are computed in partition-figures.mjs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetCluster, waitFor } from '@backbeat/testing';
import { decodeLeaseRecord, NatsBus, STATE_KEYS, statusStreamConfig } from '@backbeat/transport';
import { CLI } from './fleet.mjs';
import { claimTotals, measure, storedClaims } from './observe.mjs';
import { partitionFaults } from './partition-faults.mjs';
import { lateClaimsByAgent, partitionFigures } from './partition-figures.mjs';
import { readObservations } from './partition-observations.mjs';
import { formatTable, rowOk } from './partition-table.mjs';

const OBSERVER = new URL('./net-observer.mjs', import.meta.url).pathname;
const S = Object.freeze({ clusterId: 'chaos', bpm: 120, bar: 4, leaseTtlMs: 2000 });
const BEAT_MS = 60_000 / S.bpm;
const settleMs = Number(process.env.CHAOS_SETTLE_MS ?? 6000);
const only = process.env.CHAOS_FAULTS ? new Set(process.env.CHAOS_FAULTS.split(',')) : undefined;
const log = (line) => process.stderr.write(`[partition ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
/** The fault's own duration: part of the fault, not a wait for a condition. */
const hold = (ms) => new Promise((r) => setTimeout(r, ms));
const bound = S.leaseTtlMs + 1000;
const PULSE_HOST = { p1: 0, p2: 1 };

let net;
const buses = [];
/** @type {Map<string, { host: number, args: string[], proc: import('@backbeat/testing').ManagedProcess, kind: string }>} */
const procs = new Map();
const dir = mkdtempSync(join(tmpdir(), 'backbeat-partition-'));
let stopping = false;
async function cleanup() {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(buses.map((b) => b.close()));
  await Promise.allSettled([...procs.values()].map((p) => p.proc.stop(3000)));
  if (process.env.CHAOS_LOGS) {
    // Every process's output, for a diagnosis after the run (one file per process id).
    mkdirSync(process.env.CHAOS_LOGS, { recursive: true });
    for (const [id, p] of procs)
      writeFileSync(join(process.env.CHAOS_LOGS, `${id}.log`), `${p.proc.stdout}\n--- stderr ---\n${p.proc.stderr}`);
  }
  await net?.stop().catch((e) => log(`cleanup: ${e.message}`));
  rmSync(dir, { recursive: true, force: true });
}
setTimeout(() => {
  log('the run passed its hard bound of 9 minutes: stopping every process');
  void cleanup().finally(() => process.exit(1));
}, 9 * 60_000).unref();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: stopping every process`);
    void cleanup().finally(() => process.exit(130));
  });
}

function start(id, host, kind, args) {
  const level = kind === 'reverb' ? (process.env.CHAOS_REVERB_LOG_LEVEL ?? 'info') : 'info';
  const full = [...args, '--cluster', S.clusterId, '--nats', net.natsUrl(host), '--log-level', level];
  const proc =
    kind === 'observer'
      ? net.node(host, OBSERVER, args)
      : net.node(host, CLI, full, { env: { BACKBEAT_REPLICAS: '3' } });
  procs.set(id, { host, kind, args, proc });
  return proc;
}
const restart = async (id) => {
  const p = procs.get(id);
  await p.proc.stop(3000);
  if (p.kind === 'observer') observations(); // read what it printed before it is replaced
  start(id, p.host, p.kind, p.args);
};
const startedRe = {
  pulse: /pulse started/,
  reverb: /reverb started/,
  agent: /simulated agents running/,
  observer: /observer h\d started/,
};

/** What each host's observer printed (kept across a restart of the observer). */
const seen = new Map();
const observations = () => readObservations(seen, procs, net.hosts);

/** A bus for the runner's own reads, through the control path to host i's node. */
async function runnerBus(i) {
  if (!buses[i])
    buses[i] = await NatsBus.connect({
      servers: [await net.controlNatsUrl(i)],
      name: `partition-runner-${i}`,
      reconnectTimeWaitMs: 100,
      pingIntervalMs: 1000,
    });
  return buses[i];
}

/** The pulse holding the lease, as host i's node answers (null when none or no answer). */
async function leaderSeenFrom(i) {
  try {
    const kv = await (await runnerBus(i)).kv(`backbeat_${S.clusterId}_lease`, { create: false, timeoutMs: 1000 });
    const e = await kv.get(STATE_KEYS.leader);
    return e ? decodeLeaseRecord(e.value) : null;
  } catch {
    return null;
  }
}
async function leaderHost() {
  const rec = await waitFor(() => leaderSeenFrom(2), {
    timeoutMs: 20_000,
    intervalMs: 200,
    message: 'a pulse holding the lease',
  });
  const host = PULSE_HOST[rec.node_id];
  if (host === undefined) throw new Error(`the lease names '${rec.node_id}', not a pulse of this run`);
  return { id: rec.node_id, host, term: rec.term };
}

const STREAMS = [
  `KV_backbeat_${S.clusterId}_lease`,
  `KV_backbeat_${S.clusterId}_state`,
  `BACKBEAT_${S.clusterId}_BEAT`,
];
/**
 * Moves the leadership of the lease and state streams onto host `want` (true) or off it
 * (false), by leader step-downs with a placement preference; bounded. Off a host, the beat
 * stream too (it carries every frame with `--beat-fencing server`: while it elects a leader no
 * frame is stored); onto one, the beat stream stays where the leading pulse keeps it, off the
 * lease stream's node.
 */
async function placeStreams(want, host) {
  const name = net.hosts[host].name;
  const others = net.hosts.filter((h) => h.index !== host).map((h) => h.name);
  for (const stream of want ? STREAMS.slice(0, 2) : STREAMS) {
    for (let attempt = 0; attempt < 8; attempt++) {
      const leader = (await net.nats.streamCluster(stream))?.leader;
      if (leader && (leader === name) === want) break;
      const preferred = want ? name : others[attempt % others.length];
      const bus = await runnerBus((host + 1) % 3);
      await bus
        .request(
          `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`,
          new TextEncoder().encode(JSON.stringify({ placement: { preferred } })),
          { timeoutMs: 3000 },
        )
        .catch((e) => log(`step-down of ${stream}: ${e.message}`));
      await waitFor(async () => (await net.nats.streamCluster(stream))?.leader, {
        timeoutMs: 15_000,
        intervalMs: 100,
        message: `a leader for ${stream}`,
      });
    }
    const leader = (await net.nats.streamCluster(stream))?.leader;
    log(`${stream} led by ${leader} (${want ? 'wanted on' : 'wanted off'} ${name})`);
  }
}

/**
 * Waits (at most 30 s each) until every beat-critical stream has a leader and all its copies are current, and
 * every node says /healthz ok (a node back from a cut answers its clients' lease reads with 503 for seconds
 * after the streams look settled from their leaders); the ms waited.
 */
async function settled() {
  const t0 = Date.now();
  for (const stream of STREAMS)
    await net.nats
      .waitForStreamCurrent(stream, 3, Math.max(1000, 30_000 - (Date.now() - t0)))
      .catch((e) => log(e.message));
  await net.nats.waitHealthy(30_000).catch((e) => log(e.message));
  return Date.now() - t0;
}

/** Waits (at most 15 s) until the beat stream is led from another host than `host` (the leader's placement moves it). */
async function beatStreamOff(host) {
  const name = net.hosts[host].name;
  const beat = STREAMS[2];
  await waitFor(
    async () => {
      const leader = (await net.nats.streamCluster(beat))?.leader;
      return leader !== undefined && leader !== name;
    },
    { timeoutMs: 15_000, intervalMs: 200, message: `${beat} led off ${name}` },
  ).catch((e) => log(e.message));
  log(`${beat} led by ${(await net.nats.streamCluster(beat))?.leader}`);
}

let exitCode = 1;
try {
  net = await NetCluster.start({ hosts: 3, nats: true, clusterName: 'chaos' });
  log(`network up: ${net.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}; nats ${net.natsUrls.join(', ')}`);
  for (const h of net.hosts) start(`o${h.index + 1}`, h.index, 'observer', [net.natsUrl(h.index), S.clusterId, h.name]);
  const pulse = (id) => [
    'pulse',
    '--node-id',
    id,
    '--bpm',
    String(S.bpm),
    '--max-bpm',
    String(S.bpm * 2),
    '--bar',
    String(S.bar),
    '--lease-ttl',
    String(S.leaseTtlMs),
    '--admin-port',
    '9100',
    '--data-dir',
    join(dir, id),
  ];
  start('p1', 0, 'pulse', pulse('p1'));
  await procs.get('p1').proc.waitForOutput(startedRe.pulse, 30_000);
  start('p2', 1, 'pulse', pulse('p2'));
  for (const [id, host] of [
    ['r1', 1],
    ['r2', 2],
  ]) {
    start(id, host, 'reverb', [
      'reverb',
      '--node-id',
      id,
      '--http-port',
      '9200',
      '--data-dir',
      join(dir, id),
      '--signatures',
      'off',
    ]);
    await procs.get(id).proc.waitForOutput(startedRe.reverb, 30_000);
  }
  for (const h of net.hosts)
    start(`a${h.index + 1}`, h.index, 'agent', ['agent', '--count', '2', '--id-prefix', h.name]);
  await waitFor(() => observations().recorders.every((r) => r.reports.length > 0), {
    timeoutMs: 40_000,
    intervalMs: 200,
    message: 'a bar report on every host',
  });
  log('fleet up: frames and reports on every host');
  const faults = partitionFaults({ net, leaderHost, placeStreams, beatStreamOff, log });
  const phases = [];
  for (const f of faults) {
    if (only && !only.has(f.name)) continue;
    for (const [id, p] of procs)
      await p.proc
        .waitForOutput(startedRe[p.kind], 30_000)
        .catch((e) => log(`${id} not started: ${e.message.split('\n')[0]}`));
    await hold(1000);
    const from = Date.now() - 1000;
    let minority = [];
    try {
      ({ minority } = await f.run());
    } catch (err) {
      log(`(${f.name}) the fault could not be run: ${err.message}`);
      if (net.faults.length > 0) await net.heal().catch((e) => log(`heal: ${e.message}`));
    }
    const healedAt = Date.now();
    await waitFor(() => observations().recorders.some((r) => r.frames.at(-1)?.at > healedAt), {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: 'frames after the heal',
    }).catch((e) => log(e.message));
    await hold(settleMs);
    // A node back from a cut can still knock a stream's Raft leader over seconds after the heal: the
    // row watches until every beat-critical stream has a leader and current copies again, so what a
    // heal costs is its row's, and the next fault starts on a settled cluster.
    const settledMs = await settled();
    if (settledMs > 0) log(`(${f.name}) streams led and current ${settledMs} ms after the settle time`);
    const died = [...procs].filter(([, p]) => !p.proc.running).map(([id]) => id);
    for (const id of died) {
      log(
        `(${f.name}) ${id} exited on its own: ${(procs.get(id).proc.stdout + procs.get(id).proc.stderr).trimEnd().split('\n').slice(-3).join(' / ')}`,
      );
      await restart(id);
    }
    phases.push({
      fault: f.name,
      title: f.title,
      from,
      to: Date.now(),
      healedAt,
      minority,
      boundMs: bound,
      bar: S.bar,
      died,
    });
  }
  await hold(S.bar * BEAT_MS + 1500);
  const obs = observations();
  const stored = await storedClaims(await runnerBus(2), S.clusterId);
  const lastBeat = Math.max(-1, ...obs.recorders.flatMap((r) => r.frames.map((x) => x.beat)));
  const rows = phases.map((p) => {
    const all = measure(obs, stored, p, lastBeat);
    const majority = { recorders: obs.recorders.filter((_, i) => !p.minority.includes(i)), probes: obs.probes };
    const maj = measure(majority, stored, p, lastBeat);
    return {
      ...all,
      fault: p.fault,
      title: p.title,
      minority: p.minority.map((i) => net.hosts[i].name),
      gap_ms: maj.gap_ms,
      gap_all_ms: all.gap_ms,
      ...partitionFigures(obs, p),
      processes_died: p.died,
    };
  });
  process.stdout.write(`\n${formatTable(rows)}\n`);
  const claims = claimTotals(obs, rows);
  process.stdout.write(
    `\nclaims over the run (${claims.bars} bars): acknowledged ${claims.acked}, counted ${claims.counted} + late ${claims.late}: ${claims.ok ? 'every one counted' : 'NOT as acknowledged'}\n`,
  );
  const lateByAgent = lateClaimsByAgent(obs, stored);
  process.stdout.write(`claims stored after their bar's report, by agent: ${JSON.stringify(lateByAgent)}\n`);
  const sdkTotals = obs.probes.map((p) => `${p.host}: ${p.acked} acknowledged, ${p.failed} failed`).join('; ');
  process.stdout.write(`SDK claims: ${sdkTotals}\n`);
  for (const r of rows)
    for (const b of r.bars_detail.filter((x) => x.reports !== 1 || x.claims_acked !== x.claims_counted))
      log(
        `(${r.fault}) bar ${b.from_beat}: ${b.reports} report(s), claims acknowledged ${b.claims_acked}, counted ${b.claims_counted ?? 'no report'}`,
      );
  if (process.env.BENCH_JSON)
    writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        { suite: 'chaos-partition', settings: { ...S, settleMs }, rows, claims, late_by_agent: lateByAgent },
        null,
        2,
      ),
    );
  exitCode = rows.length > 0 && rows.every(rowOk) && claims.ok ? 0 : 1;
  if (exitCode !== 0) log('some faults broke a bound (rows with ok = NO, or claims not as acknowledged)');
} catch (err) {
  log(`partition run failed: ${err.stack ?? err}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
