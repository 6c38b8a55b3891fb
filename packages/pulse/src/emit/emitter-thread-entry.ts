/**
 * Runs inside the emitter thread (docs/decisions/0003-emitter-thread.md): owns only the schedule
 * and the publish, on its own NATS connection, so that KV, HTTP, metrics and logging on the main
 * thread cannot delay a frame. It builds the same emitter as the inline mode
 * ({@link startSlotEmitter}), reads the term from the shared fence, takes the tempo map, the
 * wire floor and remote HLCs from the main thread, and tells it what it did.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Hlc, systemClock } from '@backbeat/core';
import { NatsBus, type NatsConfig } from '@backbeat/transport';
import type { EmitterCommand, EmitterEvent, EmitterInit } from './emitter-thread.js';
import { SharedFence } from './shared-fence.js';
import { startSlotEmitter, type SlotEmitter } from './slot-emitter.js';

const init = workerData as EmitterInit;
const port = parentPort!;
const post = (e: EmitterEvent): void => port.postMessage(e);

/** This thread's id in the OS (Linux: /proc/thread-self is <pid>/task/<tid>), for its CPU time. */
function ownTid(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isSafeInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

let bus: NatsBus | undefined;
let emitter: SlotEmitter | undefined;
try {
  bus = await NatsBus.connect(init.nats as NatsConfig);
  const fence = new SharedFence(init.fence);
  const hlc = new Hlc(init.nodeId);
  emitter = await startSlotEmitter({
    bus,
    clusterId: init.clusterId,
    hlc,
    clock: systemClock,
    map: init.map,
    term: (now) => fence.term(now),
    quorumTerm: (now, sentAfter) => fence.quorumTerm(now, sentAfter),
    beatStored: (term, sentAt) => fence.beatStored(term, sentAt),
    fencing: init.fencing,
    replicas: init.replicas,
    staleAfterMs: init.staleAfterMs,
    precise: init.precise,
    // This thread only emits: sleep through the last ms before a slot instead of polling.
    wait: 'block',
    events: {
      onPublished: (frame) => post({ type: 'published', frame }),
      onSkip: (reason) => post({ type: 'skip', reason }),
      onStalled: (ms) => post({ type: 'stalled', ms }),
      onRefused: (term, newerTerm) => post({ type: 'refused', term, newerTerm }),
      onWarning: (message) => post({ type: 'warning', message }),
      onFallback: (event) => post({ type: 'fallback', event }),
    },
  });
  port.on('message', (c: EmitterCommand) => {
    if (c.type === 'map') emitter!.setMap(c.map);
    else if (c.type === 'floor') emitter!.setFloor(c.floor);
    else if (c.type === 'hlc') hlc.update(c.hlc);
    else if (c.type === 'reset') emitter!.reset();
    else if (c.type === 'stop') {
      emitter!.stop();
      void bus!.close().finally(() => {
        post({ type: 'stopped' });
        port.close();
      });
    }
  });
  post({ type: 'ready', tid: ownTid() });
} catch (err) {
  emitter?.stop();
  await bus?.close().catch(() => {});
  post({ type: 'failed', message: (err as Error).message });
  port.close();
}
