/**
 * The elector of one node that always leads (term 1): `backbeat dev` and tests of everything but
 * election (BACKBEAT-REQ-001).
 */
import type { LeaderElector, Leadership } from './leader-elector.js';

/** Always the leader, term 1: one node, `backbeat dev`, tests of everything but election. */
export class SingleNodeElector implements LeaderElector {
  #listeners = new Set<(l: Leadership) => void>();
  #running = false;

  constructor(private readonly nodeId: string) {}

  async start(): Promise<void> {
    this.#running = true;
    for (const l of this.#listeners) l(this.leadership());
  }

  async stop(): Promise<void> {
    this.#running = false;
    for (const l of this.#listeners) l(this.leadership());
  }

  canPublish(): boolean {
    return this.#running;
  }

  leadership(): Leadership {
    const on = this.#running;
    return { isLeader: on, term: on ? 1 : 0, leaderId: on ? this.nodeId : null, leaseReachable: true };
  }

  onChange(listener: (l: Leadership) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
