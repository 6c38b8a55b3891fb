/**
 * The pulse service (BACKBEAT-REQ-001..005): every node keeps the grid from the tempo map in KV; the node holding
 * the lease publishes one BeatFrame per phase, with its term in the `Backbeat-Term` header, and a legacy {bar, beat}
 * message per beat. This file wires the parts: the tempo (tempo/), the elector, its clock check and the stream
 * placement (lease/), the emission (emit/), the own-frame observer, the counts and the status views.
 */
import { Hlc, type SlotKey, type TempoMap } from '@backbeat/core';
import { assertServerVersion, openStateBucket, resolveReplicas, retryTransient, subjects } from '@backbeat/transport';
import type { Presence, ReplicaOptions } from '@backbeat/transport';
import type { EmitterLoad } from './emit/emitter-thread.js';
import { FrameObserver } from './emit/frame-observer.js';
import { SharedFence } from './emit/shared-fence.js';
import type { PublishedFrame } from './emit/slot-publisher.js';
import type { Leadership } from './lease/leader-elector.js';
import { openElector } from './lease/open-elector.js';
import { later } from './lease/records.js';
import { createPulseMetrics, type PulseMetrics } from './metrics.js';
import { NodeCounts } from './node-counts.js';
import { NodeEmitter } from './node-emitter.js';
import { announce, gaugeReadings, nodeDrift, nodeSnapshot, presenceInfo, type NodeParts } from './node-status.js';
import { resolvePulseOptions, type PulseOptions, type ResolvedPulseOptions } from './options.js';
import * as views from './status-views.js';
import { NodeTempo } from './tempo/node-tempo.js';
import type { PendingTempo, TempoRequest } from './tempo/tempo-changes.js';

/** One pulse node. */
export class Pulse {
  readonly options: ResolvedPulseOptions & { readonly bus: PulseOptions['bus'] };
  readonly metrics: PulseMetrics;
  readonly hlc: Hlc;
  #state: views.ServiceState = 'created';
  /** Tempo, observer, elector and clock check, as they start. */
  readonly #p: NodeParts = { leaseTtlMs: null };
  #presence: Presence | undefined;
  #emitter: NodeEmitter | undefined;
  readonly #fence = new SharedFence();
  readonly #counts: NodeCounts;
  /** The term this node knows (the lease's). */
  #term = 0;
  #adminUrl: string | undefined;

  constructor(options: PulseOptions) {
    this.options = Object.freeze({ ...resolvePulseOptions(options), bus: options.bus });
    const readings = gaugeReadings(this.options, this.#p, () => this.#canPublish());
    this.metrics = createPulseMetrics(this.options.registry, readings);
    this.#counts = new NodeCounts(this.metrics);
    this.hlc = new Hlc(this.options.nodeId, { clock: this.options.clock });
  }

  get state(): views.ServiceState {
    return this.#state;
  }

  /** The tempo map this node follows (null before a leader created it). */
  get tempoMap(): TempoMap | null {
    return this.#p.tempo?.map ?? null;
  }

  /** BeatFrames this node published. */
  get publishedCount(): number {
    return this.#counts.published;
  }

  /**
   * Where the emitter runs ('worker', 'inline', or null before it started) and, for the
   * worker, its event loop's busy and idle time since it started.
   */
  emitterStatus(): { where: 'worker' | 'inline' | null; load: EmitterLoad | null } {
    return { where: this.#emitter?.where ?? null, load: this.#emitter?.utilization() ?? null };
  }

  /** The admin API's address, shown in this node's presence entry. */
  setAdminAddress(url: string): void {
    this.#adminUrl = url;
  }

  /**
   * Connects to the shared state, starts campaigning and keeping the grid. Idempotent.
   * @throws LeaseTtlMismatchError when the lease bucket's TTL is not `leaseTtlMs`
   */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'starting';
    try {
      await this.#start();
    } catch (err) {
      await this.#teardown();
      this.#state = 'stopped';
      throw err;
    }
  }

  async #start(): Promise<void> {
    const { bus, clusterId, nodeId, clock, logger } = this.options;
    // Every bucket this node opens gets the same replica count (docs/decisions/0001-replicated-state.md);
    // a count the server cannot change is one log line.
    const replicas = await resolveReplicas(bus, this.options.replicas);
    assertServerVersion(bus, replicas, logger);
    const buckets: ReplicaOptions = {
      replicas,
      onMismatch: (e) => logger.warn({ code: e.code, ...e.context }, e.message),
    };
    const open = (): ReturnType<typeof openStateBucket> => openStateBucket(bus, clusterId, buckets);
    const stateKv = await retryTransient(open, { what: 'opening the state bucket', clock, logger });
    const p = this.#p;
    p.tempo = new NodeTempo(stateKv, {
      ...this.options,
      isLeader: () => this.#canPublish(),
      onMap: () => this.#emitter?.mapChanged(),
      onRefused: (key) => this.metrics.kvValuesRefused.inc({ key }),
      onRequestError: (rule) => this.metrics.tempoChangeErrors.inc({ reason: rule }),
    });
    await p.tempo.start();
    p.observer = new FrameObserver({
      ...this.options,
      subject: subjects(clusterId).beat,
      hlc: this.hlc,
      map: () => this.tempoMap,
      leaseTerm: () => p.elector?.leadership().term ?? 0,
      onDrift: (ratio) => this.metrics.timerDriftRatio.set(ratio),
      onRemoteHlc: (hlc) => this.#emitter?.remoteHlc(hlc),
      onSeen: () => this.#emitter?.setFloor(this.#floor()),
    });
    p.observer.start();
    const setup = await openElector({
      options: this.options,
      replicas: buckets,
      fence: this.#fence,
      lastSlot: () => this.#floor(),
      onRefused: (key) => this.metrics.kvValuesRefused.inc({ key }),
      onStepDown: (stream, reason) => this.metrics.streamStepdowns.inc({ stream, reason }),
    });
    Object.assign(p, setup);
    setup.elector.onChange((l) => this.#onLeadership(l));
    const o = this.options;
    this.#emitter = new NodeEmitter({
      ...o,
      hlc: this.hlc,
      replicas,
      emitterNats: o.elector === 'kv' || o.elector === 'single' ? o.emitterNats : undefined,
      map: () => this.tempoMap,
      term: () => (this.#canPublish() ? this.#term : 0),
      floor: () => this.#floor(),
      fence: this.#fence,
      metrics: this.metrics,
      running: () => this.#state === 'running',
      fenceNode: (reason) => p.elector?.fence?.(reason),
      onPublished: (f) => this.#onPublished(f),
      onSkip: (reason) => this.metrics.framesSkipped.inc({ reason }),
    });
    this.#state = 'running';
    this.#emitter.mapChanged();
    await setup.elector.start();
    const info = (): Record<string, unknown> => presenceInfo(this.#snapshot(), this.#adminUrl);
    this.#presence = await announce(this.options, replicas, info);
    logger.info({ cluster: clusterId, node: nodeId, lease_ttl_ms: p.leaseTtlMs }, 'pulse started');
  }

  /** Releases the lease (a follower takes over at once) and stops. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    await this.#teardown();
    this.#state = 'stopped';
    this.options.logger.info({ node: this.options.nodeId, published: this.#counts.published }, 'pulse stopped');
  }

  async #teardown(): Promise<void> {
    this.#fence.close();
    await this.#emitter?.stop();
    await this.#p.placement?.stop();
    this.#p.tempo?.stop();
    await this.#p.elector?.stop();
    await this.#presence?.stop();
    await this.#p.clockCheck?.stop();
    this.#p.observer?.stop();
  }

  #canPublish(): boolean {
    return this.#state === 'running' && (this.#p.elector?.canPublish(this.options.clock.now()) ?? false);
  }

  /** The last (beat, phase) known to be on the wire: this node never sends one at or before it. */
  #floor(): SlotKey | undefined {
    return later(this.#p.observer?.lastSeen, this.#p.elector?.leadership().resumeAfter);
  }

  #onLeadership(l: Leadership): void {
    this.#term = l.term;
    this.#p.placement?.leadership(l);
    const floor = this.#floor();
    this.#emitter?.setFloor(floor);
    const began = this.#counts.leadership(l, floor);
    this.#presence?.refresh(); // role, term and leader now, not at the next refresh (up to 5 s later)
    const fields = { term: l.term, previous_leader: l.previousLeaderId ?? null, reason: l.reason ?? '' };
    if (began) this.options.logger.info(fields, 'leading');
    if (l.isLeader) void this.#p.tempo?.ensureMap();
    else this.#emitter?.reset();
  }

  /** A frame went out (in this thread or the emitter thread). */
  #onPublished(f: PublishedFrame): void {
    this.#counts.frame(this.tempoMap!, f);
    const { beatIndex, phaseIndex, scheduledAt, firedAt, publishedAt } = f;
    this.options.onPublished?.({ beatIndex, phaseIndex, scheduledAt, firedAt, publishedAt });
    this.#p.observer!.noteSent(f);
    this.#p.tempo!.frameSent();
  }

  /**
   * Accepts a tempo change on this node (BACKBEAT-REQ-004); the leader applies it at the next
   * downbeat.
   * @throws TempoChangeError for a request that breaks a rule
   */
  requestTempoChange(req: TempoRequest): Promise<PendingTempo> {
    return this.#p.tempo!.request(req);
  }

  #snapshot = (): views.PulseSnapshot => nodeSnapshot(this.options, this.#state, this.#p, this.#canPublish());

  /** GET /tempo. */
  tempoStatus(): views.TempoStatus {
    return views.tempoStatus(this.#snapshot());
  }

  /** GET /leader. */
  leaderStatus(): views.LeaderStatus {
    return views.leaderStatus(this.#snapshot());
  }

  /** GET /drift (REQ-003), with the clock checks. */
  driftReport(): views.PulseDriftReport {
    return nodeDrift(this.#snapshot(), this.#p);
  }

  /** True while this node is a follower that receives no frames and keeps time alone. */
  isDegraded(): boolean {
    return views.isDegraded(this.#snapshot());
  }

  /** GET /ready: running, connected, on a grid, able to lead or to follow the KV. */
  readiness(): views.Readiness {
    return views.readiness(this.#snapshot());
  }

  /** Ready to serve (see {@link readiness}). */
  isReady(): boolean {
    return this.readiness().ready;
  }
}
