/**
 * The pulse service (BACKBEAT-REQ-001..005): every node keeps the grid from the tempo map in
 * KV; the node holding the lease publishes one BeatFrame per phase, with its term in the
 * `Backbeat-Term` header, and a legacy {bar, beat} message per beat. This file wires the
 * parts: the tempo-map keeper, the elector and its clock check, the scheduler, the frame
 * encoder, the own-frame observer and the status views.
 */
import { hostname } from 'node:os';
import { compareSlots, Hlc, TempoChangeError, tempoAt, type SlotKey, type TempoMap } from '@backbeat/core';
import { assertServerVersion, openStateBucket, resolveReplicas, retryTransient, startPresence, subjects, type ClusterSubjects, type KvBucket, type Presence, type ReplicaOptions } from '@backbeat/transport';
import type { ClockCheck } from './clock-check.js';
import { DriftTracker } from './drift.js';
import type { LeaderElector, Leadership } from './elector.js';
import { setUpElector } from './elector-setup.js';
import { startEmitter, type Emitter } from './emit/emitter.js';
import type { EmitterLoad } from './emit/emitter-thread.js';
import { FrameObserver } from './emit/frame-observer.js';
import { SharedFence } from './emit/shared-fence.js';
import { STALL_FENCE_MS, type PublishedFrame, type SkipReason } from './emit/slot-publisher.js';
import { createPulseMetrics, type PulseMetrics } from './metrics.js';
import { resolvePulseOptions, type PulseOptions, type ResolvedPulseOptions } from './options.js';
import { driftView, isDegraded, leaderStatus, readiness, tempoStatus, type LeaderStatus, type PulseDriftReport, type PulseSnapshot, type Readiness, type ServiceState, type TempoStatus } from './status-views.js';
import { submitTempoChange, type PendingTempo, type TempoRequest } from './tempo.js';
import { TempoKeeper } from './tempo-keeper.js';
import { TempoWriter } from './tempo-writer.js';

/** One pulse node. */
export class Pulse {
  readonly options: ResolvedPulseOptions & { readonly bus: PulseOptions['bus'] };
  readonly metrics: PulseMetrics;
  readonly hlc: Hlc;
  #state: ServiceState = 'created';
  #stateKv!: KvBucket;
  #keeper: TempoKeeper | undefined;
  #elector: LeaderElector | undefined;
  #clockCheck: ClockCheck | undefined;
  #observer: FrameObserver | undefined;
  #presence: Presence | undefined;
  #replicas = 1;
  #emission: Emitter | undefined;
  #emissionStarting = false;
  readonly #fence = new SharedFence();
  #leaseTtlMs: number | null = null;
  /** Set when this node starts leading; cleared by the first frame of the term. */
  #newTerm = false;
  /** The term this node leads (0 while it does not). */
  #leadingTerm = 0;
  /** The last slot on the wire when this term began (for the failover count). */
  #termStartFloor: SlotKey | undefined;
  /** The term this node knows (the lease's). */
  #term = 0;
  #published = 0;
  #lastLeaderId: string | null = null;
  #writer: TempoWriter | undefined;
  #adminUrl: string | undefined;
  readonly #subjects: ClusterSubjects;

  constructor(options: PulseOptions) {
    this.options = Object.freeze({ ...resolvePulseOptions(options), bus: options.bus });
    this.metrics = createPulseMetrics(this.options.registry, {
      tempoBpm: () => (this.tempoMap ? tempoAt(this.tempoMap, this.options.clock.now()) : null),
      isLeader: () => this.#canPublish(),
      term: () => this.#elector?.leadership().term ?? 0,
      clockOffsetMs: () => ({ nats: this.#clockCheck?.status().offsetMs ?? null, peers: this.#observer?.peerOffsetMs ?? null }),
    });
    this.hlc = new Hlc(this.options.nodeId, { clock: this.options.clock });
    this.#subjects = subjects(this.options.clusterId);
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** The tempo map this node follows (null before a leader created it). */
  get tempoMap(): TempoMap | null {
    return this.#keeper?.map ?? null;
  }

  /** BeatFrames this node published. */
  get publishedCount(): number {
    return this.#published;
  }

  /**
   * Where the emitter runs ('worker', 'inline', or null before it started) and, for the
   * worker, its event loop's busy and idle time since it started.
   */
  emitterStatus(): { where: 'worker' | 'inline' | null; load: EmitterLoad | null } {
    return { where: this.#emission?.where ?? null, load: this.#emission?.utilization() ?? null };
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
    // Every bucket this node opens gets the same replica count
    // (docs/decisions/0001-replicated-state.md).
    this.#replicas = await resolveReplicas(bus, this.options.replicas);
    assertServerVersion(bus, this.#replicas, logger);
    this.#stateKv = await retryTransient(() => openStateBucket(bus, clusterId, this.#replicaOptions()), { what: 'opening the state bucket', clock, logger });
    this.#keeper = new TempoKeeper(this.#stateKv, {
      logger,
      onMap: () => this.#onMap(),
      onPending: (p) => {
        if (p) void this.#writer?.applyPending();
      },
      onRefused: (key, _reason, revision) => {
        this.metrics.kvValuesRefused.inc({ key });
        // The leader repairs the key: a refused pending change would block every later one,
        // and a refused map would leave clients and new nodes without the grid in force.
        if (key === 'tempo-pending') void this.#writer?.applyPending();
        if (key === 'tempo-map') void this.#writer?.restoreMap(revision);
      },
    });
    this.#writer = new TempoWriter(this.#stateKv, this.#keeper, { clock, logger, bpm: this.options.bpm, barLength: this.options.barLength, phases: this.options.phases, isLeader: () => this.#canPublish() });
    await this.#keeper.start();
    this.#observer = new FrameObserver({
      bus,
      subject: this.#subjects.beat,
      nodeId,
      hlc: this.hlc,
      clock,
      logger,
      map: () => this.tempoMap,
      leaseTerm: () => this.#elector?.leadership().term ?? 0,
      onDrift: (ratio) => this.metrics.timerDriftRatio.set(ratio),
      onRemoteHlc: (hlc) => this.#emission?.remoteHlc(hlc),
      onSeen: () => {
        const floor = this.#floor();
        if (floor) this.#emission?.setFloor(floor);
      },
    });
    this.#observer.start();
    const setup = await setUpElector({
      options: this.options,
      replicas: this.#replicaOptions(),
      fence: this.#fence,
      lastSlot: () => this.#floor(),
      onRefused: (key) => this.metrics.kvValuesRefused.inc({ key }),
    });
    this.#elector = setup.elector;
    this.#clockCheck = setup.clockCheck;
    this.#leaseTtlMs = setup.leaseTtlMs;
    this.#elector.onChange((l) => this.#onLeadership(l));
    this.#state = 'running';
    this.#onMap();
    await this.#elector.start();
    try {
      this.#presence = await startPresence(bus, clusterId, { kind: 'pulse', nodeId, host: hostname(), clock, logger, replicas: this.#replicas, info: () => this.#presenceInfo() });
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not announce this node in the presence bucket');
    }
    logger.info({ cluster: clusterId, node: nodeId, lease_ttl_ms: this.#leaseTtlMs }, 'pulse started');
  }

  /** Releases the lease (a follower takes over at once) and stops. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    await this.#teardown();
    this.#state = 'stopped';
    this.options.logger.info({ node: this.options.nodeId, published: this.#published }, 'pulse stopped');
  }

  async #teardown(): Promise<void> {
    this.#fence.close();
    await this.#emission?.stop();
    this.#emission = undefined;
    this.#writer?.stop();
    await this.#elector?.stop();
    await this.#presence?.stop();
    await this.#clockCheck?.stop();
    this.#observer?.stop();
    this.#keeper?.stop();
  }

  #canPublish(): boolean {
    return this.#state === 'running' && (this.#elector?.canPublish(this.options.clock.now()) ?? false);
  }

  /** The last (beat, phase) known to be on the wire: this node never sends one at or before it. */
  #floor(): SlotKey | undefined {
    const a = this.#observer?.lastSeen;
    const b = this.#elector?.leadership().resumeAfter;
    return !a ? b : !b ? a : compareSlots(a, b) >= 0 ? a : b;
  }

  #onMap(): void {
    const map = this.tempoMap;
    if (!map || this.#state !== 'running') return;
    if (this.#emission) return this.#emission.setMap(map);
    if (this.#emissionStarting) return;
    this.#emissionStarting = true;
    const o = this.options;
    startEmitter(
      {
        bus: o.bus,
        clusterId: o.clusterId,
        nodeId: o.nodeId,
        hlc: this.hlc,
        clock: o.clock,
        logger: o.logger,
        precise: o.precise,
        staleAfterMs: o.staleAfterMs,
        beatFencing: o.beatFencing,
        replicas: this.#replicas,
        emitterNats: o.elector === 'kv' || o.elector === 'single' ? o.emitterNats : undefined,
        term: () => (this.#canPublish() ? this.#term : 0),
        fence: this.#fence,
        onPublished: (f) => this.#onPublished(f),
        onSkip: (reason) => this.#onSkip(reason),
        onStalled: (ms) => this.#onStalled(ms),
        onRefused: (term, newer) => this.#onRefused(term, newer),
        onWarning: (message) => o.logger.warn({}, message),
        onLost: () => {
          this.#elector?.fence?.('the emitter thread ended');
          this.#emission = undefined;
          this.#emissionStarting = false;
          this.options.clock.setTimeout(() => this.#onMap(), 1000);
        },
      },
      map,
    ).then(
      async (e) => {
        this.#emissionStarting = false;
        if (this.#state !== 'running') return e.stop();
        this.#emission = e;
        e.setMap(this.tempoMap!);
        const floor = this.#floor();
        if (floor) e.setFloor(floor);
        o.logger.info({ where: e.where, beat_fencing: e.fencing }, 'emitter running');
      },
      (err: unknown) => {
        this.#emissionStarting = false;
        o.logger.error({ err: (err as Error).message }, 'could not start the emitter; retrying');
        o.clock.setTimeout(() => this.#onMap(), 1000);
      },
    );
  }

  #onLeadership(l: Leadership): void {
    this.#term = l.term;
    const floor = this.#floor();
    if (floor) this.#emission?.setFloor(floor);
    if (l.leaderId !== null && l.leaderId !== this.#lastLeaderId) {
      if (this.#lastLeaderId !== null || l.isLeader) this.metrics.leadershipChanges.inc();
      this.#lastLeaderId = l.leaderId;
    }
    this.#presence?.refresh(); // role, term and leader now, not at the next refresh (up to 5 s later)
    if (l.isLeader) {
      // A term begins once: later events of the same term (the lease reachable again) change nothing here.
      if (l.term !== this.#leadingTerm) {
        this.#leadingTerm = l.term;
        this.options.logger.info({ term: l.term, previous_leader: l.previousLeaderId ?? null, reason: l.reason ?? '' }, 'leading');
        this.#termStartFloor = floor;
        this.#newTerm = true;
      }
      void this.#writer?.ensureMap();
    } else {
      this.#leadingTerm = 0;
      this.#newTerm = false;
      this.#emission?.reset();
    }
  }

  /** A frame went out (in this thread or the emitter thread). */
  #onPublished(f: PublishedFrame): void {
    this.metrics.publishDuration.observe(f.publishMs / 1000);
    this.metrics.jitter.observe(Math.max(0, f.publishedAt - f.scheduledAt) / 1000);
    this.metrics.beatsTotal.inc({ phase: f.phase });
    this.#published++;
    this.options.onPublished?.({ beatIndex: f.beatIndex, phaseIndex: f.phaseIndex, scheduledAt: f.scheduledAt, firedAt: f.firedAt, publishedAt: f.publishedAt });
    const floor = this.#termStartFloor;
    if (this.#newTerm && floor) {
      // First frame of this term: count the slots nobody published during the failover.
      const missed = slotsBetween(this.tempoMap!, floor, f);
      if (missed > 0) this.metrics.framesSkipped.inc({ reason: 'failover' }, missed);
    }
    this.#newTerm = false;
    this.#observer!.noteSent(f);
    if (this.#keeper!.pending) void this.#writer?.applyPending();
  }

  /** The beat stream refused this node's frame: a newer term writes the beat (docs/spec.md §7). */
  #onRefused(term: number, newerTerm: number): void {
    this.metrics.beatWritesRefused.inc();
    const line = "the beat stream refused this leader's frame: a newer term writes the beat; fencing this node";
    this.options.logger.warn({ term, newer_term: newerTerm }, line);
    this.#elector?.fence?.('the beat stream refused a frame');
  }

  #onSkip(reason: SkipReason): void {
    this.metrics.framesSkipped.inc({ reason });
  }

  #onStalled(unconfirmedMs: number): void {
    const { bus, clock, logger } = this.options;
    logger.warn({ unconfirmed_ms: Math.round(unconfirmedMs) }, 'the connection stalled: fencing this node and dropping the connection with its buffer');
    this.#elector!.fence?.('connection stalled');
    if (this.#emission?.where !== 'worker') return;
    // The emitter thread's connection stalled; this thread's goes the same way to the same
    // servers: drop it too unless it answers at once.
    let answered = false;
    bus.flush().then(
      () => (answered = true),
      () => {},
    );
    clock.setTimeout(() => {
      if (!answered) bus.dropConnection();
    }, STALL_FENCE_MS);
  }

  /**
   * Accepts a tempo change on this node (BACKBEAT-REQ-004); the leader applies it at the next downbeat.
   * @throws TempoChangeError for a request that breaks a rule
   */
  async requestTempoChange(req: TempoRequest): Promise<PendingTempo> {
    const { clock, nodeId, minBpm, maxBpm, logger } = this.options;
    try {
      const accepted = await submitTempoChange(this.#stateKv, req, { clock, nodeId, minBpm, maxBpm });
      logger.info({ tempo_bpm: req.tempo_bpm, justification: req.justification }, 'tempo change accepted');
      return accepted;
    } catch (err) {
      this.metrics.tempoChangeErrors.inc({ reason: err instanceof TempoChangeError ? err.context.rule : 'error' });
      throw err;
    }
  }

  #snapshot(): PulseSnapshot {
    const { clock, nodeId, clusterId, minBpm, maxBpm, bus } = this.options;
    return {
      state: this.#state,
      nodeId,
      clusterId,
      now: clock.now(),
      map: this.tempoMap,
      pending: this.#keeper?.pending ?? null,
      leadership: this.#elector?.leadership() ?? { isLeader: false, term: 0, leaderId: null },
      canPublish: this.#canPublish(),
      connected: bus.status().connected,
      clock: this.#clockCheck?.status() ?? null,
      peerOffsetMs: this.#observer?.peerOffsetMs ?? null,
      leaseTtlMs: this.#leaseTtlMs,
      minBpm,
      maxBpm,
      lastFrameAt: this.#observer?.drift.lastFrameAt,
    };
  }

  /** Replica count for the buckets this node opens; a count the server cannot change is one log line. */
  #replicaOptions(): ReplicaOptions {
    return { replicas: this.#replicas, onMismatch: (e) => this.options.logger.warn({ code: e.code, ...e.context }, e.message) };
  }

  #presenceInfo(): Record<string, unknown> {
    const l = leaderStatus(this.#snapshot());
    return { role: l.role, term: l.term, leader: l.leader, last_renewal: l.last_renewal, clock_offset_ms: this.#clockCheck?.status().offsetMs ?? null, admin: this.#adminUrl ?? null };
  }

  /** GET /tempo. */
  tempoStatus(): TempoStatus {
    return tempoStatus(this.#snapshot());
  }

  /** GET /leader. */
  leaderStatus(): LeaderStatus {
    return leaderStatus(this.#snapshot());
  }

  /** GET /drift (REQ-003), with the clock checks. */
  driftReport(): PulseDriftReport {
    const s = this.#snapshot();
    return driftView(s, (this.#observer?.drift ?? new DriftTracker()).report(isDegraded(s)));
  }

  /** True while this node is a follower that receives no frames and keeps time alone. */
  isDegraded(): boolean {
    return isDegraded(this.#snapshot());
  }

  /** GET /ready: running, connected, on a grid, able to lead or to follow the KV. */
  readiness(): Readiness {
    return readiness(this.#snapshot());
  }

  /** Ready to serve (see {@link readiness}). */
  isReady(): boolean {
    return this.readiness().ready;
  }
}

/** Grid slots strictly between `a` and `b`. */
function slotsBetween(map: TempoMap, a: SlotKey, b: SlotKey): number {
  const p = map.phases.length;
  return Math.max(0, (b.beatIndex - a.beatIndex) * p + (b.phaseIndex - a.phaseIndex) - 1);
}
