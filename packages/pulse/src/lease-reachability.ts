/**
 * Whether the lease KV answers one node's lease operations: reachable or not and when it last
 * answered (as Leadership reports them), when an operation last failed for a transient reason
 * (the KV-outage rules of lease-outage.ts read it), and the warning for failed operations,
 * logged at most every 2 s. No decisions: kv-lease.ts makes those.
 */
import type { Clock, Logger } from '@backbeat/core';
import { KvConflictError } from '@backbeat/transport';

/** Failures of lease operations are logged at most this often (a leader in an outage retries every 150 ms). */
const WARN_EVERY_MS = 2000;

/** How the lease KV has been answering this node. */
export class LeaseReachability {
  #lastOkAt: number | null = null;
  #reachable = true;
  /** Last time a lease operation failed for a transient reason. */
  #troubleAt: number | undefined;
  #lastWarnAt = -Infinity;
  #failuresSinceWarn = 0;

  /** `leading`: whether this node leads (the warning says so); `onChange` is called whenever {@link reachable} flips. */
  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly leading: () => boolean,
    private readonly onChange: () => void,
  ) {}

  /** Wall time (ms) of the last answer, or null. */
  get lastOkAt(): number | null {
    return this.#lastOkAt;
  }

  /** False while the last lease operation failed. */
  get reachable(): boolean {
    return this.#reachable;
  }

  /** Last time (clock.now()) a lease operation failed for a transient reason, or undefined. */
  get troubleAt(): number | undefined {
    return this.#troubleAt;
  }

  /** The KV answered. */
  ok(): void {
    this.#lastOkAt = this.clock.wallNow();
    if (!this.#reachable) {
      this.#reachable = true;
      this.onChange();
    }
  }

  /** A lease operation failed: unreachable, remembered (a conflict is an answer, not trouble), logged at most every 2 s. */
  failed(err: unknown): void {
    if (!(err instanceof KvConflictError)) this.#troubleAt = this.clock.now();
    if (this.#reachable) {
      this.#reachable = false;
      this.onChange();
    }
    this.#failuresSinceWarn++;
    const now = this.clock.now();
    if (now - this.#lastWarnAt < WARN_EVERY_MS) return;
    this.log.warn({ err: (err as Error).message, leader: this.leading(), failures: this.#failuresSinceWarn }, 'lease operation failed');
    this.#lastWarnAt = now;
    this.#failuresSinceWarn = 0;
  }
}
