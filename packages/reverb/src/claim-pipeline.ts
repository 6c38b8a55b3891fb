/**
 * Claims in arrival order through the signature threads: a claim whose signature a thread
 * checks waits for that check, and every claim after it waits its turn, so claims are counted
 * (and acknowledged) in the order they were delivered while many are checked at once. A claim
 * that needs no thread, arriving when nothing waits, is counted at once.
 */
import type { SignatureCheck } from './trust.js';

/** What the pipeline needs of its owner. */
export interface ClaimPipelineHooks<T> {
  /** The signature check to run on a thread for `item`, or undefined when it needs none. */
  toCheck(item: T): { readonly agent: string; readonly payload: Uint8Array; readonly signature: string } | undefined;
  /** Runs a check on a thread (never rejects). */
  check(agent: string, payload: Uint8Array, signature: string): Promise<SignatureCheck>;
  /** Counts `item`, with its thread's check when it had one. */
  apply(item: T, check: SignatureCheck | undefined): void;
  /** What `apply` threw for a claim counted after a check (the queue goes on). */
  onError(err: unknown): void;
}

interface Entry<T> {
  readonly item: T;
  ready: boolean;
  check: SignatureCheck | undefined;
}

/** The ordered queue of claims between delivery and counting. */
export class ClaimPipeline<T> {
  readonly #hooks: ClaimPipelineHooks<T>;
  #queue: Array<Entry<T>> = [];
  #head = 0;
  #idle: Array<() => void> = [];

  constructor(hooks: ClaimPipelineHooks<T>) {
    this.#hooks = hooks;
  }

  /** Claims delivered and not counted yet. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Takes a claim; it is counted now or once the checks before it and its own are done. */
  submit(item: T): void {
    const job = this.#hooks.toCheck(item);
    if (job === undefined && this.pending === 0) {
      this.#hooks.apply(item, undefined);
      return;
    }
    const entry: Entry<T> = { item, ready: job === undefined, check: undefined };
    this.#queue.push(entry);
    if (job === undefined) return;
    void this.#hooks.check(job.agent, job.payload, job.signature).then((check) => {
      entry.check = check;
      entry.ready = true;
      this.#drain();
    });
  }

  /** Resolves once every claim submitted so far is counted. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #drain(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.ready) {
      const e = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Entry<T>; // let it go
      try {
        this.#hooks.apply(e.item, e.check);
      } catch (err) {
        this.#hooks.onError(err);
      }
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      const waiting = this.#idle.splice(0);
      for (const w of waiting) w();
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
