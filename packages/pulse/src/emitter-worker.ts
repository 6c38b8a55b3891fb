/**
 * The emitter thread (docs/decisions/0003-emitter-thread.md): owns only the schedule and the
 * publish, on its own NATS connection, so that KV, HTTP, metrics and logging on the main thread
 * cannot delay a frame. It publishes only while the shared fence is open; it tells the main thread
 * what it did.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { compareSlots, Hlc, systemClock, type SlotKey, type TempoMap } from '@backbeat/core';
import { NatsBus, type NatsConfig } from '@backbeat/transport';
import { FramePublisher } from './frame-publisher.js';
import { BeatScheduler } from './scheduler.js';
import { SharedFence } from './shared-fence.js';
import type { EmitterEvent, EmitterCommand, EmitterInit } from './worker-emitter.js';

const init = workerData as EmitterInit;
const port = parentPort!;
const post = (e: EmitterEvent): void => port.postMessage(e);

const bus = await NatsBus.connect(init.nats as NatsConfig);
const fence = new SharedFence(init.fence);
const hlc = new Hlc(init.nodeId);
let map: TempoMap = init.map;
let floor: SlotKey | undefined;

const publisher = new FramePublisher({
  bus,
  clusterId: init.clusterId,
  hlc,
  clock: systemClock,
  map: () => map,
  term: (now) => fence.term(now),
  floor: () => floor,
  onPublished: (frame) => post({ type: 'published', frame }),
  onSkip: (reason) => post({ type: 'skip', reason }),
  onStalled: (ms) => post({ type: 'stalled', ms }),
  onPublishError: (err) => post({ type: 'error', message: `could not publish a BeatFrame: ${err.message}` }),
});
const scheduler = new BeatScheduler({
  clock: systemClock,
  map: () => map,
  onSlot: (e) => publisher.fire(e.pos, e.firedAt),
  onArm: (pos) => publisher.arm(pos),
  onSkip: (e) => publisher.skipStale(e.pos),
  onError: (err) => post({ type: 'error', message: `a beat slot failed: ${err.message}` }),
  staleAfterMs: init.staleAfterMs,
  precise: init.precise,
  // This thread only emits: sleep through the last ms before a slot instead of polling.
  wait: 'block',
});

port.on('message', (c: EmitterCommand) => {
  if (c.type === 'map') map = c.map;
  else if (c.type === 'floor') {
    if (!floor || compareSlots(c.floor, floor) > 0) floor = c.floor;
  } else if (c.type === 'hlc') hlc.update(c.hlc);
  else if (c.type === 'reset') publisher.reset();
  else if (c.type === 'stop') {
    scheduler.stop();
    void bus.close().finally(() => {
      post({ type: 'stopped' });
      port.close();
    });
  }
});
/** This thread's id in the OS (Linux: /proc/thread-self is <pid>/task/<tid>), for its CPU time. */
function ownTid(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isSafeInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

scheduler.start();
post({ type: 'ready', tid: ownTid() });
