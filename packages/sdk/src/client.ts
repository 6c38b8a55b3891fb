/**
 * The BACKBEAT client agents import (BACKBEAT-REQ-040..044): follow the beat, report status,
 * bound work by beats, and keep time alone when the leader is gone. A facade: the follower
 * (follow/follower.ts) owns the beat subscription, its checks and the callbacks; the claim
 * message (claims/claim-message.ts) and the claim sender (claims/claim-sender.ts) own claims.
 */
import {
  beatDurationMs,
  DEFAULT_BAR_LENGTH,
  Hlc,
  tempoAt,
  toLegacy as legacyOf,
  windowIdForBeat,
  type LegacyBeat,
  type LifecycleState,
  type TempoMap,
} from '@backbeat/core';
import type { StatusClaim } from '@backbeat/contracts';
import { NatsBus, subjects, type Bus } from '@backbeat/transport';
import { runWithBudget } from './budget.js';
import { claimMessage, type ClaimInput, type ClaimMessage } from './claims/claim-message.js';
import { ClaimSender } from './claims/claim-sender.js';
import { ClaimInvalidError, ClaimTooLargeError, ClientStoppedError, NoBeatError } from './errors.js';
import type { LeaseView, MapSource } from './follow/gate-types.js';
import type { BeatCallback, Timing } from './follow/beat-types.js';
import { BeatFollower } from './follow/follower.js';
import { SdkMetrics, type SdkMetricsSnapshot } from './metrics.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { sharedSlotTimer } from './follow/slot-timer.js';

export type { ClaimInput } from './claims/claim-message.js';

/** Client health (the SDK seed's HealthStatus, plus what the client trusts). */
export interface ClientHealth {
  connected: boolean;
  lastBeat: number;
  lastBeatTime: string | null;
  reconnectCount: number;
  /** True while slots fire without the leader's frames (frames timing: local; grid: unconfirmed). */
  localDegradation: boolean;
  currentTempo: number | null;
  tempoDrift: number;
  measuredBpm: number | null;
  /** Timing in force: the configured one, or 'frames' after a clock-offset fallback. */
  timing: Timing;
  /** Why grid timing fell back to frames, or null. */
  timingFallback: string | null;
  /** This clock minus the leader's, ms, estimated from frames (an upper bound); null before frames. */
  clockOffsetMs: number | null;
  /** The lease the client fences frames with: 'held' (term, leader), 'absent' or 'unreadable' (no term fencing). */
  lease: { state: LeaseView['state']; term: number | null; leader: string | null; reason: string | null };
  /** Where the tempo map comes from: KV, learned from frames, or none yet. */
  tempoMapSource: MapSource;
  /** Frames not used, by reason (bad_term, off_grid, malformed, stale, ...). */
  framesDropped: Record<string, number>;
  errors: string[];
}

const MAX_ERRORS = 20;

/** Lifecycle of a client. */
export type ClientState = LifecycleState;

/** A BACKBEAT client. Create with {@link createClient}. */
export class Client {
  readonly options: ResolvedClientOptions;
  readonly hlc: Hlc;
  readonly #metrics: SdkMetrics;
  readonly #follower: BeatFollower;
  #state: ClientState = 'created';
  #bus: Bus | undefined;
  #ownsBus = false;
  #claims: ClaimSender | undefined;
  #cleanups: Array<() => void> = [];
  #errors: string[] = [];
  #reconnects = 0;

  constructor(options: ClientOptions) {
    this.options = resolveClientOptions(options);
    const { clock, logger, agentId } = this.options;
    this.hlc = new Hlc(agentId, { clock });
    this.#metrics = new SdkMetrics(this.options.registry);
    this.#follower = new BeatFollower({
      clusterId: this.options.clusterId,
      clock,
      hlc: this.hlc,
      toleranceMs: this.options.jitterToleranceMs,
      timing: this.options.timing,
      maxClockOffsetMs: this.options.maxClockOffsetMs,
      metrics: this.#metrics,
      timer: sharedSlotTimer(clock),
      onError: (m, log) => this.#recordError(m, log),
      onDegradation: (on) =>
        logger[on ? 'warn' : 'info'](
          { agent: agentId },
          on ? 'leader frames late: keeping time locally' : 'leader frames back: re-joined the leader',
        ),
    });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Connects, follows the beat (subscription, lease and tempo map) and starts keeping time. Idempotent. */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'starting';
    const { clusterId, logger, clock } = this.options;
    this.#bus = this.options.bus ?? (await NatsBus.connect(this.options.nats));
    this.#ownsBus = this.options.bus === undefined;
    const bus = this.#bus;
    this.#claims = new ClaimSender(
      bus,
      this.#metrics,
      this.options.maxQueuedClaims,
      clock,
      logger,
      this.options.noStreamGraceMs,
    );
    this.#cleanups.push(
      bus.onStatus((e) => {
        if (e.type === 'reconnect') {
          this.#reconnects++;
          this.#claims?.retryNow();
        }
        if (e.type === 'error') this.#recordError(e.error.message);
      }),
    );
    await this.#follower.follow(bus, (m, log) => this.#recordError(m, log));
    this.#follower.start();
    this.#state = 'running';
    logger.info(
      { cluster: clusterId, agent: this.options.agentId, timing: this.options.timing },
      'backbeat client started',
    );
  }

  /** Stops following the beat and sends what is queued (up to 2 s). Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    this.#follower.stop();
    await this.#claims?.close(2000);
    for (const c of this.#cleanups.splice(0)) c();
    if (this.#ownsBus) await this.#bus?.close();
    this.#state = 'stopped';
  }

  #recordError(message: string, log = true): void {
    this.#errors.push(`${new Date(this.options.clock.wallNow()).toISOString()} ${message}`);
    if (this.#errors.length > MAX_ERRORS) this.#errors.shift();
    if (log) this.options.logger.warn({ agent: this.options.agentId }, message);
  }

  /** Calls `cb` once per beat (its first phase). Returns the unsubscribe function. */
  onBeat(cb: BeatCallback): () => void {
    return this.#follower.onBeat(cb);
  }

  /** Calls `cb` once per bar (the first phase of its downbeat). */
  onDownbeat(cb: BeatCallback): () => void {
    return this.#follower.onDownbeat(cb);
  }

  /** Calls `cb` once per (beat, phase). */
  onPhase(cb: BeatCallback): () => void {
    return this.#follower.onPhase(cb);
  }

  /**
   * Calls `cb` with every lease update the client reads from KV (a new leader or term, no
   * leader, a lease that cannot be read). Returns the unsubscribe function.
   */
  onLeaseChange(cb: (lease: LeaseView) => void): () => void {
    return this.#follower.onLeaseChange(cb);
  }

  /**
   * Sends a status claim (BACKBEAT-REQ-041), signed when a key is set (REQ-044), with the
   * headers of docs/spec.md §10 Security. Resolves when the stream acknowledged it (after a
   * reconnect, if the connection is down).
   * @throws ClaimInvalidError for input that breaks INT-B; ClaimTooLargeError for a payload over
   *   CLAIM_MAX_BYTES (64 KiB); ClientStoppedError when not running; ClaimQueueFullError when
   *   too many claims wait for the connection; ClaimRejectedError when it failed for good (no
   *   stream, permission denied, the claim stream full or refusing its size)
   */
  async emitStatusClaim(input: ClaimInput): Promise<StatusClaim> {
    if (this.#state !== 'running' || !this.#claims) throw new ClientStoppedError('emitStatusClaim');
    const beatIndex = input.beatIndex ?? this.currentBeat;
    if (beatIndex < 0) throw new NoBeatError('emitStatusClaim');
    const { agentId, clusterId, signingKey, logger } = this.options;
    const barLength = this.#follower.map?.barLength ?? DEFAULT_BAR_LENGTH;
    let m: ClaimMessage;
    try {
      m = claimMessage(input, {
        agentId,
        clusterId,
        beatIndex,
        hlc: this.hlc.nowString(),
        barLength,
        signingKey,
        logger,
      });
    } catch (err) {
      if (err instanceof ClaimInvalidError) this.#metrics.failed('invalid');
      else if (err instanceof ClaimTooLargeError) this.#metrics.failed('too_large');
      throw err;
    }
    await this.#claims.send(subjects(clusterId).status, m.payload, m.headers, m.msgId);
    return m.claim;
  }

  /**
   * Runs `fn` with a budget of `beats` beats (BACKBEAT-REQ-042): when beat current + beats
   * starts on the grid, `signal` is aborted and the promise rejects with BeatBudgetExceededError.
   * @throws NoBeatError before the first beat
   */
  withBeatBudget<T>(beats: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!Number.isSafeInteger(beats) || beats < 1)
      return Promise.reject(new RangeError(`beat budget must be a whole number >= 1, got ${beats}`));
    if (this.currentBeat < 0 || !this.#follower.map) return Promise.reject(new NoBeatError('withBeatBudget'));
    return runWithBudget(
      this.options.clock,
      () => this.#follower.map,
      (l) => this.#follower.onMapChange(l),
      this.currentBeat,
      beats,
      fn,
    );
  }

  /** Index of the current beat (-1 before the first). */
  get currentBeat(): number {
    return this.#follower.current?.beatIndex ?? -1;
  }

  /** Window id of the current bar ('' before the first beat). */
  get currentWindow(): string {
    const map = this.#follower.map;
    return this.currentBeat < 0 || !map ? '' : windowIdForBeat(this.options.clusterId, this.currentBeat, map.barLength);
  }

  /** True when `windowId` is the current bar's. */
  isInWindow(windowId: string): boolean {
    return windowId !== '' && windowId === this.currentWindow;
  }

  /** Tempo in force, or null before the grid is known. */
  get currentTempo(): number | null {
    const map = this.#follower.map;
    return map ? tempoAt(map, this.options.clock.now()) : null;
  }

  /** The tempo map this client keeps time with. */
  get tempoMap(): TempoMap | null {
    return this.#follower.map;
  }

  /** Measured beat duration minus the expected one, in ms (0 until 2 beats arrived). */
  tempoDrift(): number {
    const bpm = this.#measuredBpm();
    const tempo = this.currentTempo;
    return bpm === null || tempo === null ? 0 : beatDurationMs(bpm) - beatDurationMs(tempo);
  }

  #measuredBpm(): number | null {
    const a = this.#follower.beatArrivals;
    if (a.length < 2) return null;
    return 60_000 / ((a[a.length - 1]! - a[0]!) / (a.length - 1));
  }

  /** Legacy {bar, beat} of a beat index (REQ-043). */
  toLegacy(beatIndex: number): LegacyBeat {
    return legacyOf(beatIndex, this.#follower.map?.barLength ?? DEFAULT_BAR_LENGTH);
  }

  /** Health, as the SDK seed's HealthStatus, plus timing, clock offset and the lease in force. */
  health(): ClientHealth {
    const f = this.#follower;
    const lease = f.lease;
    const last = f.lastBeatTime;
    return {
      connected: this.#bus?.status().connected ?? false,
      lastBeat: this.currentBeat,
      lastBeatTime: last === undefined ? null : new Date(last).toISOString(),
      reconnectCount: this.#reconnects,
      localDegradation: f.degraded,
      currentTempo: this.currentTempo,
      tempoDrift: this.tempoDrift(),
      measuredBpm: this.#measuredBpm(),
      timing: f.timing,
      timingFallback: f.timingFallback,
      clockOffsetMs: f.clockOffsetMs,
      lease:
        lease.state === 'held'
          ? { state: 'held', term: lease.term, leader: lease.nodeId, reason: null }
          : { state: lease.state, term: null, leader: null, reason: lease.reason },
      tempoMapSource: f.mapSource,
      framesDropped: { ...this.#metrics.snapshot.framesDropped },
      errors: [...this.#errors],
    };
  }

  /** Counters and latencies (a copy). */
  metrics(): SdkMetricsSnapshot {
    const snap = structuredClone(this.#metrics.snapshot);
    this.#metrics.offset(this.#follower.clockOffsetMs);
    return snap;
  }
}

/**
 * Creates a client; call start() to connect.
 * @throws InvalidArgumentError at once for a bad agent id, cluster id or key
 */
export function createClient(options: ClientOptions): Client {
  return new Client(options);
}
