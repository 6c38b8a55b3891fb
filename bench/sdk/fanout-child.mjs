// @ts-check
// One fan-out process of bench/sdk.mjs (forked by ./fanout.mjs with its url, cluster, mode,
// follower count and tempo map): runs the followers, reports its tallies when told to stop.
import { nextSlot, scheduleAt, slot, slotAtOrAfter, systemClock } from '@backbeat/core';
import { NatsBus, subjects } from '@backbeat/transport';
import { createClient } from '@backbeat/sdk';
import { START_BATCH, now } from './common.mjs';

/** @typedef {import('./common.mjs').TempoMap} TempoMap */
/** @typedef {import('./common.mjs').Tally} Tally */

const dec = new TextDecoder();

/**
 * Sends `message` to the parent process (a fan-out child is always forked with an IPC channel).
 * @param {unknown} message
 * @param {() => void} [then]
 */
function toParent(message, then) {
  if (!process.send) throw new Error('bench/sdk/fanout-child.mjs runs only as a forked child');
  process.send(message, undefined, {}, then);
}

/**
 * Runs `count` followers: 'shared' | 'grid' | 'conn' SDK clients, 'bare' subscriptions, or 'loop'
 * no-op callbacks on one timer.
 * @param {string[]} args url, cluster, mode, count and the tempo map as JSON
 */
async function fanoutChild([url, cluster, mode, countArg, mapJson]) {
  process.on('disconnect', () => process.exit(1)); // the parent is gone: never linger
  /** @type {TempoMap} */
  const map = JSON.parse(mapJson);
  const count = Number(countArg);
  const bus = mode === 'conn' || mode === 'loop' ? undefined : await NatsBus.connect({ servers: url });
  let window = { from: Infinity, to: -Infinity }; // grid times of the measured slots
  /** @type {number[]} */
  const delivery = [];
  /** @type {number[]} */
  const callback = [];
  /** @type {Tally[]} */
  const tallies = [];
  /** @type {Array<() => Promise<void>>} */
  const stops = [];
  /**
   * @param {number} beat
   * @param {number} phaseIndex
   */
  const key = (beat, phaseIndex) => beat * map.phases.length + phaseIndex;
  /**
   * @param {Tally} t
   * @param {number} beat
   * @param {number} phaseIndex
   * @param {number} scheduledAt
   * @param {string} source
   * @param {number} receivedAt
   * @param {number} calledAt
   */
  const record = (t, beat, phaseIndex, scheduledAt, source, receivedAt, calledAt) => {
    if (scheduledAt < window.from || scheduledAt >= window.to) return;
    const k = key(beat, phaseIndex);
    if (t.fired.has(k)) t.dup++;
    t.fired.add(k);
    if (source === 'local') return void t.local++;
    if (source === 'grid') {
      t.grid++;
      callback.push(calledAt - scheduledAt);
      return;
    }
    t.leader++;
    delivery.push(receivedAt - scheduledAt);
    callback.push(calledAt - scheduledAt);
  };
  /** @type {Array<(beat: number, phaseIndex: number, scheduledAt: number, firedAt: number) => void>} */
  const loop = [];
  /** @param {number} i */
  const startOne = async (i) => {
    /** @type {Tally} */
    const t = { fired: new Set(), leader: 0, local: 0, grid: 0, dup: 0 };
    tallies.push(t);
    if (mode === 'loop') {
      loop.push((beat, p, scheduledAt, firedAt) => record(t, beat, p, scheduledAt, 'grid', firedAt, now()));
      return;
    }
    if (mode === 'bare') {
      if (!bus) throw new Error('bare subscriptions need the shared connection');
      const sub = bus.subscribe(subjects(cluster).beat, (m) => {
        const receivedAt = now();
        const f = JSON.parse(dec.decode(m.data));
        const p = map.phases.indexOf(f.phase);
        record(t, f.beat_index, p, slot(map, f.beat_index, p).phaseStart, 'leader', receivedAt, now());
      });
      stops.push(async () => sub.unsubscribe());
      return;
    }
    const agentId = `agent:fan-${process.pid}-${i}`;
    const timing = mode === 'grid' ? 'grid' : 'frames';
    const c = createClient(
      mode === 'conn' || !bus
        ? { clusterId: cluster, agentId, nats: url }
        : { clusterId: cluster, agentId, bus, timing },
    );
    c.onPhase((f, info) =>
      record(t, f.beat_index, map.phases.indexOf(f.phase), info.scheduledAt, info.source, info.receivedAt, now()),
    );
    stops.push(() => c.stop());
    await c.start();
  };
  for (let i = 0; i < count; i += START_BATCH) {
    await Promise.all(Array.from({ length: Math.min(START_BATCH, count - i) }, (_, j) => startOne(i + j)));
  }
  if (mode === 'loop') {
    // One timer per process, every callback of a slot in one loop: what a grid fire costs at least.
    let pos = slotAtOrAfter(map, now() + 5);
    /** @type {() => void} */
    let cancel = () => {};
    const arm = () => {
      cancel = scheduleAt(
        systemClock,
        pos.phaseStart,
        (firedAt) => {
          for (const cb of loop) cb(pos.beatIndex, pos.phaseIndex, pos.phaseStart, firedAt);
          pos = nextSlot(map, pos);
          arm();
        },
        { precise: true, wait: 'block' },
      );
    };
    arm();
    stops.push(async () => cancel());
  }
  await bus?.flush();
  toParent({ ready: true, rssMb: process.memoryUsage().rss / 2 ** 20 });
  /** @type {NodeJS.CpuUsage | undefined} */
  let cpuAtGo;
  process.on(
    'message',
    async (/** @type {{ go?: { from: number, to: number }, expected: number, firstKey: number }} */ msg) => {
      if (msg.go) {
        cpuAtGo = process.cpuUsage();
        return void (window = msg.go);
      }
      const cpu = process.cpuUsage(cpuAtGo);
      for (let i = 0; i < stops.length; i += START_BATCH)
        await Promise.all(stops.slice(i, i + START_BATCH).map((s) => s()));
      await bus?.close();
      const missed = tallies.reduce(
        (a, t) =>
          a + msg.expected - [...t.fired].filter((k) => k >= msg.firstKey && k < msg.firstKey + msg.expected).length,
        0,
      );
      /** @param {(t: Tally) => number} f */
      const sum = (f) => tallies.reduce((a, t) => a + f(t), 0);
      const out = {
        clients: tallies.length,
        missed,
        leader: sum((t) => t.leader),
        local: sum((t) => t.local),
        grid: sum((t) => t.grid),
        dup: sum((t) => t.dup),
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
      toParent({ ...out, delivery: Float64Array.from(delivery), callback: Float64Array.from(callback) }, () =>
        process.exit(0),
      );
    },
  );
}

await fanoutChild(process.argv.slice(2));
