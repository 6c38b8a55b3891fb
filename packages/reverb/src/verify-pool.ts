/**
 * Ed25519 checks of claim signatures across worker threads: verification is
 * reverb's costliest step by far (about 80 µs a claim with libsodium on this project's test
 * machine, against about 12 µs for everything else), so one thread caps a replica at about
 * 12,000 verified claims/s. The pool batches the claims of one turn of the event loop, packs
 * their bytes into one transferred buffer, and hands each batch to the least busy thread;
 * results come back in order per claim. A thread that fails is replaced, and its claims are
 * checked on the calling thread: a check never fails.
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '@backbeat/core';
import type { SignatureCheck, TrustStore } from './trust.js';

/** What a thread starts with. */
export interface VerifyInit {
  /** The trust file's JSON (TrustStore.toJSON). */
  readonly trust: string;
}

/** Claims to check: payload i is bytes[offsets[i], offsets[i + 1]). */
export interface VerifyBatch {
  readonly id: number;
  readonly agents: readonly string[];
  readonly signatures: readonly string[];
  readonly offsets: readonly number[];
  readonly bytes: ArrayBuffer;
}

/** Messages to a thread. */
export type VerifyCommand =
  | { readonly type: 'trust'; readonly trust: string }
  | { readonly type: 'check'; readonly batch: VerifyBatch };

/** A batch is sent once it holds this many claims, else at the end of the event loop's turn. */
const MAX_BATCH = 256;
/** Threads replaced after a failure, at most, over the pool's life. */
const MAX_RESPAWNS = 8;

interface Job {
  readonly agent: string;
  readonly payload: Uint8Array;
  readonly signature: string;
  readonly resolve: (c: SignatureCheck) => void;
}

interface Thread {
  worker: Worker;
  /** Claims sent and not answered. */
  load: number;
  readonly batches: Map<number, readonly Job[]>;
}

/** Worker threads that check claim signatures against the trust store. */
export class VerifyPool {
  readonly #threads: Thread[] = [];
  #trust: TrustStore;
  #json: string;
  #jobs: Job[] = [];
  #scheduled = false;
  #nextId = 1;
  #closed = false;
  #failures = 0;

  readonly #script: URL;

  /**
   * Starts `threads` threads (>= 1) holding `trust`. `script`: the thread's module (tests
   * give one that fails) @default verify-worker.js
   */
  constructor(threads: number, trust: TrustStore, script: URL = workerScript(import.meta.url, 'verify-worker.js')) {
    this.#script = script;
    this.#trust = trust;
    this.#json = JSON.stringify(trust);
    for (let i = 0; i < threads; i++) this.#threads.push(this.#spawn());
  }

  /** Threads running. */
  get size(): number {
    return this.#threads.length;
  }

  /** Claims handed to the threads and not answered yet. */
  get pending(): number {
    return this.#jobs.length + this.#threads.reduce((n, t) => n + t.load, 0);
  }

  /** The same check as TrustStore.check, on a thread. Never rejects. */
  check(agentId: string, payload: Uint8Array, signature: string): Promise<SignatureCheck> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve(this.#trust.check(agentId, payload, signature));
      this.#jobs.push({ agent: agentId, payload, signature, resolve });
      if (this.#jobs.length >= MAX_BATCH) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Claims checked from now on use `trust`. */
  setTrust(trust: TrustStore): void {
    this.#trust = trust;
    this.#json = JSON.stringify(trust);
    for (const t of this.#threads) t.worker.postMessage({ type: 'trust', trust: this.#json } satisfies VerifyCommand);
  }

  /** Answers what is pending on the calling thread and stops the threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush();
    const threads = this.#threads.splice(0);
    for (const t of threads) this.#orphan(t);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  #spawn(): Thread {
    const worker = new Worker(this.#script, { workerData: { trust: this.#json } satisfies VerifyInit });
    const t: Thread = { worker, load: 0, batches: new Map() };
    worker.on('message', (m: { id: number; results: SignatureCheck[] }) => {
      const jobs = t.batches.get(m.id);
      if (!jobs) return;
      t.batches.delete(m.id);
      t.load -= jobs.length;
      if (t.load === 0) worker.unref(); // an idle thread does not keep the process alive
      for (let i = 0; i < jobs.length; i++) jobs[i]!.resolve(m.results[i]!);
    });
    const fail = (): void => {
      if (this.#closed) return;
      const i = this.#threads.indexOf(t);
      if (i < 0) return;
      this.#orphan(t);
      // A thread that keeps failing (e.g. cannot load) is not replaced: its share is checked here.
      if (++this.#failures <= MAX_RESPAWNS) this.#threads[i] = this.#spawn();
      else this.#threads.splice(i, 1);
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    worker.unref();
    return t;
  }

  /** A thread's unanswered claims, checked here. */
  #orphan(t: Thread): void {
    for (const jobs of t.batches.values())
      for (const j of jobs) j.resolve(this.#trust.check(j.agent, j.payload, j.signature));
    t.batches.clear();
    t.load = 0;
  }

  #flush(): void {
    this.#scheduled = false;
    const jobs = this.#jobs;
    if (jobs.length === 0) return;
    this.#jobs = [];
    const t = this.#threads.reduce<Thread | undefined>(
      (best, x) => (best === undefined || x.load < best.load ? x : best),
      undefined,
    );
    if (t === undefined) {
      for (const j of jobs) j.resolve(this.#trust.check(j.agent, j.payload, j.signature));
      return;
    }
    const offsets = [0];
    for (const j of jobs) offsets.push(offsets[offsets.length - 1]! + j.payload.length);
    const bytes = new Uint8Array(offsets[offsets.length - 1]!);
    jobs.forEach((j, i) => bytes.set(j.payload, offsets[i]!));
    const id = this.#nextId++;
    t.batches.set(id, jobs);
    t.load += jobs.length;
    t.worker.ref(); // a pending check does
    const batch: VerifyBatch = {
      id,
      agents: jobs.map((j) => j.agent),
      signatures: jobs.map((j) => j.signature),
      offsets,
      bytes: bytes.buffer,
    };
    t.worker.postMessage({ type: 'check', batch } satisfies VerifyCommand, [bytes.buffer]);
  }
}
