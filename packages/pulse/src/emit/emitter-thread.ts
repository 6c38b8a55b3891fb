/**
 * The emitter thread as the main thread holds it (docs/decisions/0003-emitter-thread.md): starts
 * it (emitter-thread-entry.ts runs inside) with its own NATS connection, feeds it the tempo map,
 * the wire floor and remote HLCs, shares the fence with it, and hands its events (frames sent,
 * slots skipped, a stalled connection, a write the beat stream refused, the direct fallback) to
 * the pulse.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { workerScript, type SlotKey, type TempoMap } from '@backbeat/core';
import type { NatsConfig } from '@backbeat/transport';
import type { BeatFencing } from './beat-sink.js';
import type { FallbackEvent } from './direct-fallback.js';
import type { SharedFence } from './shared-fence.js';
import type { EmitterEvents } from './slot-emitter.js';
import type { PublishedFrame, SkipReason } from './slot-publisher.js';

/** What the emitter thread is started with. */
export interface EmitterInit {
  readonly nats: NatsConfig;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly fence: SharedArrayBuffer;
  readonly map: TempoMap;
  readonly staleAfterMs: number;
  readonly precise: boolean;
  readonly fencing: BeatFencing;
  readonly replicas: number;
}

/** Main thread -> emitter thread. */
export type EmitterCommand =
  | { readonly type: 'map'; readonly map: TempoMap }
  | { readonly type: 'floor'; readonly floor: SlotKey }
  | { readonly type: 'hlc'; readonly hlc: string }
  | { readonly type: 'reset' }
  | { readonly type: 'stop' };

/** Emitter thread -> main thread. */
export type EmitterEvent =
  /** `tid`: the thread's id in the OS (Linux), for its CPU time. */
  | { readonly type: 'ready'; readonly tid?: number }
  | { readonly type: 'published'; readonly frame: PublishedFrame }
  | { readonly type: 'skip'; readonly reason: SkipReason }
  | { readonly type: 'stalled'; readonly ms: number }
  | { readonly type: 'refused'; readonly term: number; readonly newerTerm: number }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'fallback'; readonly event: FallbackEvent }
  /** The thread could not start its emitter (its connection, the beat stream). */
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'stopped' };

/**
 * The emitter thread's load since it started: its event loop's `active` and `idle` ms and
 * `utilization` = active / (active + idle) (a wait that blocks the thread counts as active),
 * and `cpuMs`, the CPU time the OS gave the thread (Linux; undefined elsewhere).
 */
export interface EmitterLoad {
  readonly active: number;
  readonly idle: number;
  readonly utilization: number;
  readonly cpuMs: number | undefined;
}

/**
 * CPU time of thread `tid` of this process in ms (the first field of its schedstat, in ns); undefined when unreadable.
 */
function threadCpuMs(tid: number | undefined): number | undefined {
  if (tid === undefined) return undefined;
  try {
    const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** Handlers of the emitter thread's events. */
export interface EmitterThreadHandlers extends EmitterEvents {
  /** The thread ended without being asked to (it is not restarted here). */
  readonly onExit: (code: number) => void;
}

/** A running emitter thread. */
export class EmitterThread {
  #stopping = false;

  private constructor(
    private readonly worker: Worker,
    private readonly stopped: Promise<void>,
    private readonly tid: number | undefined,
  ) {}

  /**
   * Starts the thread and resolves once its connection and emitter are up.
   * @throws when it cannot connect or cannot make the beat stream
   */
  static async start(
    init: Omit<EmitterInit, 'fence'> & { fence: SharedFence },
    h: EmitterThreadHandlers,
  ): Promise<EmitterThread> {
    // workerScript resolves against a module at the package's source (or dist) root; this one is a folder down.
    const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
    const script = workerScript(new URL(`../index${ext}`, import.meta.url).href, 'emit/emitter-thread-entry.js');
    const worker = new Worker(script, { workerData: { ...init, fence: init.fence.buffer } satisfies EmitterInit });
    let self: EmitterThread | undefined;
    const ready = new Promise<number | undefined>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (e: EmitterEvent) => {
        if (e.type === 'ready') resolve(e.tid);
        else if (e.type === 'failed') reject(new Error(e.message));
        else if (e.type === 'published') h.onPublished(e.frame);
        else if (e.type === 'skip') h.onSkip(e.reason);
        else if (e.type === 'stalled') h.onStalled(e.ms);
        else if (e.type === 'refused') h.onRefused(e.term, e.newerTerm);
        else if (e.type === 'warning') h.onWarning(e.message);
        else if (e.type === 'fallback') h.onFallback(e.event);
      });
    });
    const stopped = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        if (self && !self.#stopping) h.onExit(code);
        resolve();
      });
    });
    worker.on('error', (err) => h.onWarning(`emitter thread: ${err.message}`));
    let tid: number | undefined;
    try {
      tid = await ready;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    self = new EmitterThread(worker, stopped, tid);
    return self;
  }

  #send(c: EmitterCommand): void {
    if (!this.#stopping) this.worker.postMessage(c);
  }

  setMap(map: TempoMap): void {
    this.#send({ type: 'map', map });
  }

  setFloor(floor: SlotKey): void {
    this.#send({ type: 'floor', floor });
  }

  remoteHlc(hlc: string): void {
    this.#send({ type: 'hlc', hlc });
  }

  reset(): void {
    this.#send({ type: 'reset' });
  }

  /** The thread's load since it started. */
  utilization(): EmitterLoad {
    const { active, idle, utilization } = this.worker.performance.eventLoopUtilization();
    return { active, idle, utilization, cpuMs: threadCpuMs(this.tid) };
  }

  /** Stops the schedule, closes the thread's connection and waits for the thread to end. */
  async stop(): Promise<void> {
    if (this.#stopping) return this.stopped;
    this.#send({ type: 'stop' });
    this.#stopping = true;
    const timer = setTimeout(() => void this.worker.terminate(), 3000);
    await this.stopped;
    clearTimeout(timer);
  }
}
