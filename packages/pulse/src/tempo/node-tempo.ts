/**
 * The tempo part of a pulse node (BACKBEAT-REQ-003, -004): the watch of the tempo map and the
 * pending change, the leader's writes (the first map, placing a pending change, repairing a
 * refused value), and accepting a tempo change request on any node.
 */
import { TempoChangeError, type Clock, type Logger, type Phase, type TempoMap } from '@backbeat/core';
import type { KvBucket } from '@backbeat/transport';
import type { GatedKey } from '../kv-gate.js';
import { LeaderMapWriter } from './leader-map-writes.js';
import { submitTempoChange, type PendingTempo, type TempoRequest } from './tempo-changes.js';
import { TempoWatch } from './tempo-watch.js';

/** What {@link NodeTempo} needs from the node. */
export interface NodeTempoOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeId: string;
  /** Tempo, bar and phases of a new map. */
  readonly bpm: number;
  readonly barLength: number;
  readonly phases: readonly Phase[];
  /** The tempo range a request must keep to. */
  readonly minBpm: number;
  readonly maxBpm: number;
  /** True while this node may write as the leader. */
  readonly isLeader: () => boolean;
  /** A (checked) tempo map arrived. */
  readonly onMap: () => void;
  /** A value was refused by its gate. */
  readonly onRefused: (key: GatedKey) => void;
  /** A tempo change request broke `rule` ('error': it failed otherwise). */
  readonly onRequestError: (rule: string) => void;
}

/** The tempo map and pending change of one node, and the leader's writes of them. */
export class NodeTempo {
  readonly #watch: TempoWatch;
  readonly #writer: LeaderMapWriter;

  constructor(
    private readonly state: KvBucket,
    private readonly o: NodeTempoOptions,
  ) {
    this.#watch = new TempoWatch(state, {
      logger: o.logger,
      onMap: () => o.onMap(),
      onPending: (p) => {
        if (p) void this.#writer.applyPending();
      },
      onRefused: (key, _reason, revision) => {
        o.onRefused(key);
        // The leader repairs the key: a refused pending change would block every later one,
        // and a refused map would leave clients and new nodes without the grid in force.
        if (key === 'tempo-pending') void this.#writer.applyPending();
        if (key === 'tempo-map') void this.#writer.restoreMap(revision);
      },
    });
    const { clock, logger, bpm, barLength, phases, isLeader } = o;
    this.#writer = new LeaderMapWriter(state, this.#watch, { clock, logger, bpm, barLength, phases, isLeader });
  }

  /** The tempo map in force (null before a leader created one). */
  get map(): TempoMap | null {
    return this.#watch.map;
  }

  /** The pending tempo change, or null. */
  get pending(): PendingTempo | null {
    return this.#watch.pending;
  }

  /** Reads and watches the map and the pending change. */
  start(): Promise<void> {
    return this.#watch.start();
  }

  stop(): void {
    this.#writer.stop();
    this.#watch.stop();
  }

  /** A new leader: the first one creates the map. */
  ensureMap(): Promise<void> {
    return this.#writer.ensureMap();
  }

  /** After a frame went out: the leader places a pending change at the next downbeat. */
  frameSent(): void {
    if (this.#watch.pending) void this.#writer.applyPending();
  }

  /**
   * Accepts a tempo change on this node; the leader applies it at the next downbeat.
   * @throws TempoChangeError for a request that breaks a rule
   */
  async request(req: TempoRequest): Promise<PendingTempo> {
    const { clock, nodeId, minBpm, maxBpm, logger } = this.o;
    try {
      const accepted = await submitTempoChange(this.state, req, { clock, nodeId, minBpm, maxBpm });
      logger.info({ tempo_bpm: req.tempo_bpm, justification: req.justification }, 'tempo change accepted');
      return accepted;
    } catch (err) {
      this.o.onRequestError(err instanceof TempoChangeError ? err.context.rule : 'error');
      throw err;
    }
  }
}
