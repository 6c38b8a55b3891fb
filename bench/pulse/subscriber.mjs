// @ts-check
// The subscriber child of bench/pulse.mjs: records when each emitter's frames arrive, measured
// against each slot's exact instant (the pulse's tempo map, read once the run is over).
import { slot } from '@backbeat/core';
import { clusterNames, NatsBus, readTempoMap } from '@backbeat/transport';
import { now, toParent } from './common.mjs';

const dec = new TextDecoder();

/** @param {string} url */
export async function subscriberChild(url) {
  const bus = await NatsBus.connect({ servers: url });
  /** @type {Record<string, number[]>} */
  const delivery = {};
  /**
   * @param {string} key
   * @param {number} lateness
   */
  const add = (key, lateness) => (delivery[key] ??= []).push(lateness);
  // A frame's scheduled_at is ISO text, whole ms: the slot's exact instant (fractional, as the
  // spin emitter sends its own) is read from the pulse's tempo map once the run is over.
  /** @type {Array<{ cluster: string, t: number, beat: number, phase: string, iso: string }>} */
  const frames = [];
  bus.subscribe('backbeat.*.beat', (m) => {
    const t = now();
    const f = JSON.parse(dec.decode(m.data));
    frames.push({ cluster: m.subject.split('.')[1], t, beat: f.beat_index, phase: f.phase, iso: f.scheduled_at });
  });
  const exactDelivery = async () => {
    const maps = new Map();
    for (const c of new Set(frames.map((f) => f.cluster)))
      maps.set(c, (await readTempoMap(await bus.kv(clusterNames(c).stateBucket, { create: false })))?.map);
    for (const f of frames) {
      const map = maps.get(f.cluster);
      const at = map ? slot(map, f.beat, map.phases.indexOf(f.phase)).phaseStart : Date.parse(f.iso);
      if (map && Math.abs(at - Date.parse(f.iso)) >= 1)
        throw new Error(`frame ${f.beat}/${f.phase} scheduled_at ${f.iso} is not its slot ${at}`);
      add(f.cluster, f.t - at);
    }
  };
  bus.subscribe('bench.*', (m) => {
    const t = now();
    const f = JSON.parse(dec.decode(m.data));
    const key = m.subject.split('.')[1];
    add(key, t - f.scheduled);
    // The raw NATS hop (receive - publish call) of the spin emitter's frames: the machine's
    // floor for delivery, whatever the emitter does before it publishes.
    if (f.sent !== undefined) add(`${key}_hop`, t - f.sent);
  });
  await bus.flush();
  toParent({ ready: true });
  process.on('message', async () => {
    await exactDelivery();
    await bus.close();
    toParent(delivery, () => process.exit(0));
  });
}
