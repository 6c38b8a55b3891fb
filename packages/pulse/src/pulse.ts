/**
 * The pulse service (BACKBEAT-REQ-001..005): every node keeps the grid from the tempo map in
 * KV; the node holding the lease publishes one BeatFrame per phase, with its term in the
 * `Backbeat-Term` header, and a legacy {bar, beat} message per beat.
 */
import {
  beatDurationMs,
  createTempoMap,
  Hlc,
  parseHlc,
  slot,
  tempoAt,
  timeOf,
  type BeatPosition,
  type TempoMap,
} from '@backbeat/core';
import { buildBeatFrame, parseBeatFrame, TERM_HEADER } from '@backbeat/contracts';
import { clusterNames, decodeJson, encodeJson, KvConflictError, openStateBucket, readTempoMap, STATE_KEYS, subjects, type KvBucket, type Subscription } from '@backbeat/transport';
import { DriftTracker, type DriftReport } from './drift.js';
import { SingleNodeElector, type LeaderElector, type Leadership } from './elector.js';
import { buildLegacyControl } from './frames.js';
import { KvLeaseElector } from './kv-lease.js';
import { createPulseMetrics, type PulseMetrics } from './metrics.js';
import { resolvePulseOptions, type PulseOptions, type ResolvedPulseOptions } from './options.js';
import { BeatScheduler, type SlotEvent } from './scheduler.js';
import { applyPendingTempo, readPending, submitTempoChange, type PendingTempo, type TempoRequest } from './tempo.js';

/** Lifecycle of a service. */
export type ServiceState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** What GET /tempo reports. */
export interface TempoStatus {
  readonly current_bpm: number | null;
  readonly pending_bpm: number | null;
  readonly can_change: boolean;
  readonly next_change: string | null;
  readonly reason: string;
  readonly min_bpm: number;
  readonly max_bpm: number;
  readonly bar_length: number | null;
}

/** What GET /leader reports. */
export interface LeaderStatus {
  readonly node_id: string;
  readonly is_leader: boolean;
  readonly leader: string | null;
  readonly term: number;
  readonly cluster_id: string;
}

const enc = new TextEncoder();

/** A slot's messages, built before its time (the HLC goes between `before` and `after`). */
interface PreparedSlot {
  readonly pos: BeatPosition;
  readonly before: string;
  readonly after: string;
  readonly legacy: Uint8Array | undefined;
}

/** One pulse node. */
export class Pulse {
  readonly options: ResolvedPulseOptions & { readonly bus: PulseOptions['bus'] };
  readonly metrics: PulseMetrics;
  readonly hlc: Hlc;
  #state: ServiceState = 'created';
  #elector!: LeaderElector;
  #stateKv!: KvBucket;
  #map: TempoMap | null = null;
  #pending: PendingTempo | null = null;
  #scheduler: BeatScheduler | undefined;
  #drift = new DriftTracker();
  #unsubs: Array<() => void> = [];
  #sub: Subscription | undefined;
  #lastReceived: BeatPosition | { beatIndex: number; phaseIndex: number } | undefined;
  #leadingSince: number | undefined;
  #published = 0;
  #lastLeaderId: string | null = null;
  #seenTerm = 0;
  #applying = false;
  #mapRetry: (() => void) | undefined;
  #prepared: PreparedSlot | undefined;
  #termHeaders: Record<string, string> = { [TERM_HEADER]: '0' };
  readonly #subjects: ReturnType<typeof subjects>;

  constructor(options: PulseOptions) {
    this.options = Object.freeze({ ...resolvePulseOptions(options), bus: options.bus });
    this.metrics = createPulseMetrics(this.options.registry);
    this.hlc = new Hlc(this.options.nodeId, { clock: this.options.clock });
    this.#subjects = subjects(this.options.clusterId);
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** The tempo map this node follows (null before a leader created it). */
  get tempoMap(): TempoMap | null {
    return this.#map;
  }

  /** BeatFrames this node published. */
  get publishedCount(): number {
    return this.#published;
  }

  /** Connects to the shared state, starts campaigning and keeping the grid. Idempotent. */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'starting';
    const { bus, clusterId, nodeId, leaseTtlMs, clock, logger } = this.options;
    this.#stateKv = await openStateBucket(bus, clusterId);
    const names = clusterNames(clusterId);
    const watchMap = await this.#stateKv.watch(STATE_KEYS.tempoMap, (e) => {
      if (e.operation === 'put') this.#setMap(decodeJsonSafe(e.value));
    });
    const watchPending = await this.#stateKv.watch(STATE_KEYS.tempoPending, (e) => {
      this.#pending = e.operation === 'put' ? decodeJsonSafe(e.value) : null;
      if (this.#pending) void this.#applyPending();
    });
    this.#unsubs.push(() => watchMap.stop(), () => watchPending.stop());
    const existing = await readTempoMap(this.#stateKv);
    if (existing) this.#setMap(existing.map);
    const pending = await readPending(this.#stateKv);
    this.#pending = pending?.value ?? null;

    this.#sub = bus.subscribe(subjects(clusterId).beat, (msg) => this.#onFrame(msg.data, msg.headers[TERM_HEADER]));

    const e = this.options.elector;
    this.#elector =
      e === 'single' ? new SingleNodeElector(nodeId) : e === 'kv' ? new KvLeaseElector(await bus.kv(names.leaseBucket, { ttlMs: leaseTtlMs }), nodeId, { ttlMs: leaseTtlMs, clock, logger }) : e;
    this.#unsubs.push(this.#elector.onChange((l) => this.#onLeadership(l)));
    this.#state = 'running';
    if (this.#map && !this.#scheduler) this.#startScheduler();
    await this.#elector.start();
    logger.info({ cluster: clusterId, node: nodeId }, 'pulse started');
  }

  /** Releases the lease (a follower takes over at once) and stops. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    this.#scheduler?.stop();
    this.#mapRetry?.();
    await this.#elector?.stop();
    this.#sub?.unsubscribe();
    for (const u of this.#unsubs) u();
    this.metrics.isLeader.set(0);
    this.#state = 'stopped';
    this.options.logger.info({ node: this.options.nodeId, published: this.#published }, 'pulse stopped');
  }

  #setMap(map: TempoMap | null): void {
    if (!map) return;
    this.#map = map;
    this.metrics.tempoBpm.set(tempoAt(map, this.options.clock.now()));
    if (!this.#scheduler && this.#state === 'running') this.#startScheduler();
  }

  #startScheduler(): void {
    const map = this.#map!;
    const phaseMs = beatDurationMs(Math.max(...map.segments.map((s) => s.tempoBpm))) / map.phases.length;
    this.#scheduler = new BeatScheduler({
      clock: this.options.clock,
      map: () => this.#map!,
      onSlot: (e) => this.#onSlot(e),
      onArm: (pos) => {
        this.#prepared = this.#elector?.leadership().isLeader ? this.#prepare(pos) : undefined;
      },
      onSkip: () => {
        if (this.#elector.canPublish(this.options.clock.now())) this.metrics.framesSkipped.inc({ reason: 'stale' });
      },
      staleAfterMs: this.options.staleAfterMs ?? Math.min(phaseMs / 2, 250),
      precise: this.options.precise,
    });
    this.#scheduler.start();
  }

  #onLeadership(l: Leadership): void {
    this.#termHeaders = { [TERM_HEADER]: String(l.term) };
    this.metrics.isLeader.set(l.isLeader ? 1 : 0);
    this.metrics.term.set(l.term);
    if (l.leaderId !== null && l.leaderId !== this.#lastLeaderId) {
      if (this.#lastLeaderId !== null || l.isLeader) this.metrics.leadershipChanges.inc();
      this.#lastLeaderId = l.leaderId;
    }
    if (l.isLeader) {
      this.#leadingSince = this.options.clock.now();
      void this.#ensureMap();
    } else {
      this.#leadingSince = undefined;
    }
  }

  /** The first leader creates the tempo map; later leaders continue it. */
  async #ensureMap(): Promise<void> {
    if (this.#map || this.#state !== 'running') return;
    const { clock, bpm, barLength, phases, logger } = this.options;
    const startTime = Math.ceil((clock.wallNow() + 500) / 1000) * 1000;
    const map = createTempoMap({ startTime, tempoBpm: bpm, barLength, phases });
    try {
      await this.#stateKv.create(STATE_KEYS.tempoMap, encodeJson(map));
      logger.info({ bpm, bar: barLength, start: new Date(startTime).toISOString() }, 'created the tempo map');
      this.#setMap(map);
    } catch (err) {
      if (err instanceof KvConflictError) {
        const existing = await readTempoMap(this.#stateKv);
        if (existing) this.#setMap(existing.map);
        return;
      }
      logger.warn({ err: (err as Error).message }, 'could not create the tempo map; retrying');
      const handle = clock.setTimeout(() => void this.#ensureMap(), 500);
      this.#mapRetry = () => clock.clearTimeout(handle);
    }
  }

  /** Builds a slot's messages ahead of time; only the HLC is added when it fires. */
  #prepare(pos: BeatPosition): PreparedSlot {
    const map = this.#map!;
    const marker = '__BACKBEAT_HLC__'; // survives JSON.stringify unchanged
    const json = JSON.stringify(buildBeatFrame(this.options.clusterId, map, pos, marker));
    const at = json.indexOf(marker);
    const before = json.slice(0, at);
    const after = json.slice(at + marker.length);
    const legacy = pos.phaseIndex === 0 ? enc.encode(JSON.stringify(buildLegacyControl(pos, map.barLength))) : undefined;
    return { pos, before, after, legacy };
  }

  #onSlot({ pos, firedAt }: SlotEvent): void {
    // The critical path: everything but the HLC was prepared when the slot was armed.
    const { bus, clock } = this.options;
    if (!this.#elector.canPublish(clock.now())) return;
    const p = this.#prepared;
    const ready = p && p.pos.beatIndex === pos.beatIndex && p.pos.phaseIndex === pos.phaseIndex && p.pos.tempoBpm === pos.tempoBpm && p.pos.phaseEnd === pos.phaseEnd ? p : this.#prepare(pos);
    const headers = this.#termHeaders;
    const data = enc.encode(ready.before + this.hlc.nowString() + ready.after);
    const t0 = performance.now();
    try {
      bus.publish(this.#subjects.beat, data, { headers });
      if (ready.legacy) bus.publish(this.#subjects.control, ready.legacy, { headers });
    } catch (err) {
      // A closed connection must not take the process down; the lease will lapse.
      this.metrics.framesSkipped.inc({ reason: 'publish_error' });
      this.options.logger.warn({ err: (err as Error).message, beat: pos.beatIndex }, 'could not publish a BeatFrame');
      return;
    }
    const t1 = performance.now();
    const publishedAt = performance.timeOrigin + t0;
    this.metrics.publishDuration.observe((t1 - t0) / 1000);
    this.metrics.jitter.observe(Math.max(0, publishedAt - pos.phaseStart) / 1000);
    this.metrics.beatsTotal.inc({ phase: pos.phase });
    this.#published++;
    this.options.onPublished?.({ beatIndex: pos.beatIndex, phaseIndex: pos.phaseIndex, scheduledAt: pos.phaseStart, firedAt, publishedAt });
    if (this.#leadingSince !== undefined && this.#lastReceived) {
      // First frame of this term: count the slots nobody published during the failover.
      const missed = slotsBetween(this.#map!, this.#lastReceived, pos);
      if (missed > 0) this.metrics.framesSkipped.inc({ reason: 'failover' }, missed);
    }
    this.#leadingSince = undefined;
    if (this.#pending) void this.#applyPending();
  }

  #onFrame(data: Uint8Array, termHeader: string | undefined): void {
    const arrivedAt = this.options.clock.now();
    const r = parseBeatFrame(data);
    if (!r.ok || !this.#map) return;
    const f = r.message;
    const term = Number(termHeader ?? 0);
    if (term < this.#seenTerm) return; // a deposed leader's frame (SPEC 6)
    this.#seenTerm = term;
    const phaseIndex = this.#map.phases.indexOf(f.phase);
    if (phaseIndex < 0) return;
    const hlc = this.hlc.update(f.hlc);
    // Measure only against a local map that already knows this beat's tempo (the KV watch
    // may lag a tempo change by a moment).
    if (slot(this.#map, f.beat_index, phaseIndex).tempoBpm === f.tempo_bpm) {
      this.#drift.record(arrivedAt, timeOf(this.#map, f.beat_index, phaseIndex), parseHlc(f.hlc).physical, this.options.clock.wallNow());
      this.metrics.timerDriftRatio.set(this.#drift.ratio());
    }
    if (!hlc.adopted) this.options.logger.warn({ skew_ms: hlc.skewMs }, 'frame HLC too far ahead; not adopted');
    this.#lastReceived = { beatIndex: f.beat_index, phaseIndex };
  }

  async #applyPending(): Promise<void> {
    if (this.#applying || !this.#elector.canPublish(this.options.clock.now())) return;
    this.#applying = true;
    try {
      const map = await applyPendingTempo(this.#stateKv, this.options.clock);
      if (map) {
        this.#setMap(map);
        this.options.logger.info({ segments: map.segments.at(-1) }, 'tempo change placed at the next downbeat');
      }
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'could not apply the pending tempo change');
    } finally {
      this.#applying = false;
    }
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
      const rule = (err as { context?: { rule?: string } }).context?.rule ?? 'error';
      this.metrics.tempoChangeErrors.inc({ reason: rule });
      throw err;
    }
  }

  /** GET /tempo. */
  tempoStatus(): TempoStatus {
    const { clock, minBpm, maxBpm } = this.options;
    const map = this.#map;
    const pending = this.#pending;
    return {
      current_bpm: map ? tempoAt(map, clock.now()) : null,
      pending_bpm: pending ? pending.tempo_bpm : null,
      can_change: map !== null && pending === null,
      next_change: pending?.effective_at ?? null,
      reason: !map ? 'no tempo map yet' : pending ? 'a tempo change is pending until the next downbeat' : '',
      min_bpm: minBpm,
      max_bpm: maxBpm,
      bar_length: map ? map.barLength : null,
    };
  }

  /** GET /leader. */
  leaderStatus(): LeaderStatus {
    const l = this.#elector?.leadership() ?? { isLeader: false, term: 0, leaderId: null };
    return { node_id: this.options.nodeId, is_leader: l.isLeader, leader: l.leaderId, term: l.term, cluster_id: this.options.clusterId };
  }

  /** GET /drift (REQ-003). */
  driftReport(): DriftReport {
    return this.#drift.report(this.isDegraded());
  }

  /** True while this node is a follower that receives no frames and keeps time alone. */
  isDegraded(): boolean {
    if (!this.#map || this.#elector?.leadership().isLeader) return false;
    const last = this.#drift.lastFrameAt;
    const phaseMs = beatDurationMs(tempoAt(this.#map, this.options.clock.now())) / this.#map.phases.length;
    return last === undefined || this.options.clock.now() - last > phaseMs + 50;
  }

  /** Ready to serve: running, connected, on a grid. */
  isReady(): boolean {
    return this.#state === 'running' && this.options.bus.status().connected && this.#map !== null;
  }
}

function decodeJsonSafe<T>(bytes: Uint8Array): T | null {
  try {
    return decodeJson<T>(bytes);
  } catch {
    return null;
  }
}

/** Grid slots strictly between `a` and `b`. */
function slotsBetween(map: TempoMap, a: { beatIndex: number; phaseIndex: number }, b: { beatIndex: number; phaseIndex: number }): number {
  const p = map.phases.length;
  return Math.max(0, (b.beatIndex - a.beatIndex) * p + (b.phaseIndex - a.phaseIndex) - 1);
}
