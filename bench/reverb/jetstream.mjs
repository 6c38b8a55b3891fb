// @ts-check
// The sections of bench/reverb.mjs on one nats-server: claims end to end through JetStream,
// the rollup time of a bar, and report history queries, each beside its plain baseline.
import { Worker } from 'node:worker_threads';
import { windowId } from '@backbeat/core';
import { NatsBus, reportStreamConfig, statusStreamConfig, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { Reverb, readReports } from '@backbeat/reverb';
import { summary } from '../lib.mjs';
import { enc, perS, sleep } from './common.mjs';

/** Publishes `count` claims from a thread of its own (its own connection); resolves with its ms. */
const PUBLISHER = `
  const { workerData, parentPort } = require('node:worker_threads');
  parentPort.once('message', async () => {
    const { NatsBus } = await import('@backbeat/transport');
    const bus = await NatsBus.connect({ servers: workerData.url });
    const enc = new TextEncoder();
    const t = performance.now();
    for (let i = 0; i < workerData.count; i++) {
      const agent = 'agent:a' + (i % 1000);
      const hlc = '18bcfe56800:' + (workerData.run * workerData.count + i).toString(16).padStart(6, '0') + ':abcd';
      const claim = { type: 'backbeat.statusclaim.v1', agent_id: agent, beat_index: 3, state: 'executing', hlc };
      const data = enc.encode(JSON.stringify(claim));
      bus.publish(workerData.subject, data, { headers: { 'x-agent-id': agent } });
      if (i % 2000 === 1999) await bus.flush();
    }
    await bus.flush();
    const ms = performance.now() - t;
    await bus.close();
    parentPort.postMessage(ms);
  });`;

/**
 * Claims/s through JetStream: a publisher thread stores `count` claims while a durable takes
 * them out: a bare durable that only acks (baselines: AckAll, reverb's policy, and explicit
 * acks), then reverb's. Each figure is first to last claim handled.
 * @param {string} url
 * @param {number} count
 */
export async function benchEndToEnd(url, count) {
  const bus = await NatsBus.connect({ servers: url });
  const cluster = 'e2e';
  await bus.ensureStream(statusStreamConfig(cluster));
  const stream = statusStreamConfig(cluster).name;
  let run = 0;
  /** @returns {Promise<number>} */
  const publishAll = async () => {
    const workerData = { url, count, subject: subjects(cluster).status, run: run++ };
    const w = new Worker(PUBLISHER, { eval: true, workerData });
    /** @type {Promise<number>} */
    const done = new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    w.postMessage('go');
    const ms = await done;
    await w.terminate();
    return ms;
  };
  /**
   * @param {() => number} handled
   * @param {(seen: () => void) => Promise<() => Promise<unknown>>} start
   */
  const measure = async (handled, start) => {
    let first = 0;
    let last = 0;
    const seen = () => {
      last = performance.now();
      first ||= last;
    };
    const stop = await start(seen);
    const publishMs = await publishAll();
    const t = performance.now();
    while (handled() < count && performance.now() - t < 60_000) await sleep(2);
    await stop();
    return { n: handled(), per_s: perS(handled(), last - first), publish_per_s: perS(count, publishMs) };
  };
  /** @param {'all' | 'explicit'} ackPolicy */
  const bare = (ackPolicy) => {
    let acked = 0;
    const options = { stream, durable: `bare_${ackPolicy}`, ackPolicy, deliverPolicy: /** @type {const} */ ('new') };
    return measure(
      () => acked,
      async (seen) => {
        const c = await bus.consume({ ...options, ackWaitMs: 30_000, maxAckPending: 20_000 }, (m) => {
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
  await bus.close();
  return {
    claims: rev.n,
    per_s: rev.per_s,
    bare_consumer_baseline_per_s: bareAll.per_s,
    bare_consumer_explicit_ack_per_s: bareExplicit.per_s,
    publish_per_s: rev.publish_per_s,
  };
}

/**
 * Closing downbeat to published report, at each agent count of `agentCounts` (0: the baseline).
 * @param {string} url
 * @param {number[]} agentCounts
 */
export async function benchRollup(url, agentCounts) {
  const bus = await NatsBus.connect({ servers: url });
  const cluster = 'rollup';
  const pulse = new Pulse({
    bus,
    clusterId: cluster,
    nodeId: 'p',
    bpm: 120,
    maxBpm: 600,
    barLength: 4,
    elector: 'single',
  });
  await pulse.start();
  const r = new Reverb({ bus, clusterId: cluster, nodeId: 'roll', signatures: 'off' });
  await r.start();
  /** @type {Array<import('@backbeat/contracts').BarReport & { publishedMs: number }>} */
  const reports = [];
  r.onReport((rep, timing) => reports.push({ ...rep, publishedMs: timing.publishedMs }));
  /** @param {(beat: number) => boolean} pred */
  const waitBeat = async (pred) => {
    while (!pred(r.currentBeat)) await sleep(5);
  };
  /**
   * @type {Record<string, { rollup_ms: number, built_ms: number | undefined, agents_reporting: number,
   *   claims: number | undefined }>}
   */
  const out = {};
  for (const n of agentCounts) {
    await waitBeat((b) => b >= 0 && b % 4 === 0);
    const from = r.currentBeat;
    for (let beat = from; beat < from + 4 && n > 0; beat++) {
      for (let a = 0; a < n; a++) {
        const state = beat === from + 3 ? 'completed' : 'executing';
        const hlc = `18bcfe56800:${beat.toString(16).padStart(4, '0')}:${a.toString(16).padStart(4, '0')}`;
        const claim = { type: 'backbeat.statusclaim.v1', agent_id: `agent:r${a}`, beat_index: beat, state, hlc };
        r.ingest(enc.encode(JSON.stringify(claim)), {}, Date.now());
      }
    }
    /** @type {(typeof reports)[number] | undefined} */
    let rep;
    while (!(rep = reports.find((x) => x.from_beat === from))) await sleep(5);
    out[n === 0 ? 'empty_bar_baseline' : `${n}_agents`] = {
      rollup_ms: Math.round(rep.publishedMs * 1000) / 1000,
      built_ms: rep.performance?.rollup_ms,
      agents_reporting: rep.agents_reporting,
      claims: rep.performance?.claims_processed,
    };
  }
  await r.stop();
  await pulse.stop();
  await bus.close();
  return out;
}

/**
 * `stored` reports, then queries by from_beat (limit 100) beside one MSG.GET. query_ms: right
 * after the baseline lookup at the same place (its file block in the server's cache);
 * query_unwarmed_ms: at another random place, before any lookup there; steps_ms: the query's
 * two rounds on their own (first and last report in parallel, then the reader of limit + 5
 * reports), after the query.
 * @param {string} url
 * @param {number} stored
 * @param {number} queries
 */
export async function benchHistory(url, stored, queries) {
  const bus = await NatsBus.connect({ servers: url });
  const cluster = 'hist';
  await bus.ensureStream(reportStreamConfig(cluster));
  const t0 = performance.now();
  for (let i = 0; i < stored; i++) {
    const from = i * 4;
    const rep = {
      type: 'backbeat.barreport.v1',
      cluster_id: cluster,
      window_id: windowId(cluster, from),
      from_beat: from,
      to_beat: from + 3,
      agents_reporting: 5,
      on_time_reviews: 5,
      help_promises_fulfilled: 0,
      secret_rotations_ok: true,
      tempo_drift_ms: 0.1,
      issues: [],
    };
    bus.publish(subjects(cluster).reportStore, enc.encode(JSON.stringify(rep)));
    if (i % 10_000 === 9999) await bus.flush();
  }
  await bus.flush();
  const stream = reportStreamConfig(cluster).name;
  while ((await bus.streamState(stream)).messages < stored) await sleep(50);
  const storeS = (performance.now() - t0) / 1000;
  /** @type {number[]} */ const lookup = [];
  /** @type {number[]} */ const query = [];
  /** @type {number[]} */ const unwarmed = [];
  /** @type {number[]} */ const lookups = [];
  /** @type {number[]} */ const reader = [];
  let wrong = 0;
  /**
   * @template T
   * @param {number[]} list
   * @param {() => Promise<T>} f
   * @returns {Promise<T>}
   */
  const timed = async (list, f) => {
    const t = performance.now();
    const r = await f();
    list.push(performance.now() - t);
    return r;
  };
  /**
   * @param {{ reports: Array<{ from_beat: number }> }} page
   * @param {number} i
   */
  const check = (page, i) => page.reports[0]?.from_beat !== i * 4 || page.reports.length !== 100;
  for (let q = 0; q < queries; q++) {
    const i = Math.floor(Math.random() * (stored - 100));
    const j = Math.floor(Math.random() * (stored - 100));
    if (check(await timed(unwarmed, () => readReports(bus, cluster, { fromBeat: j * 4, limit: 100 })), j)) wrong++;
    await timed(lookup, () => bus.getStreamMsg(stream, { seq: i + 1 }));
    if (check(await timed(query, () => readReports(bus, cluster, { fromBeat: i * 4, limit: 100 })), i)) wrong++;
    const last = { lastBySubject: subjects(cluster).reportStore };
    await timed(lookups, () => Promise.all([bus.getStreamMsg(stream, { seq: 1 }), bus.getStreamMsg(stream, last)]));
    await timed(reader, () => bus.readStream({ stream, fromSeq: Math.max(1, i - 1), limit: 105 }));
  }
  await bus.close();
  return {
    reports: stored,
    queries,
    checked: queries * 2,
    wrong_answers: wrong,
    store_s: Math.round(storeS),
    query_ms: summary(query),
    single_lookup_baseline_ms: summary(lookup),
    query_unwarmed_ms: summary(unwarmed),
    steps_ms: { first_last_lookups: summary(lookups), reader_105: summary(reader) },
  };
}
