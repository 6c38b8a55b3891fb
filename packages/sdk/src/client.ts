/**
 * The BACKBEAT client agents import (BACKBEAT-REQ-040..044): follow the beat, report status,
 * bound work by beats, and keep time alone when the leader is gone.
 */
import { randomBytes } from 'node:crypto';
import { beatDurationMs, checkTempoMap, Hlc, parseHlc, tempoAt, toLegacy as legacyOf, windowIdForBeat, type LegacyBeat, type TempoMap } from '@backbeat/core';
import { LEGACY_STATE_ALIASES, validateStatusClaim, type BeatFrame, type ClaimState, type StatusClaim } from '@backbeat/contracts';
import { decodeJson, NatsBus, openStateBucket, STATE_KEYS, statusStreamConfig, subjects, type Bus } from '@backbeat/transport';
import { joinBeatHub } from './beat-hub.js';
import { runWithBudget } from './budget.js';
import { ClaimSender } from './claims.js';
import { ClaimInvalidError, ClientStoppedError, NoBeatError } from './errors.js';
import { BeatFollower, type BeatInfo } from './follower.js';
import { SdkMetrics, type SdkMetricsSnapshot } from './metrics.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { signPayload } from './signing.js';

/** A beat callback: the frame (from the leader or built locally) and where it came from. */
export type BeatCallback = (frame: BeatFrame, info: BeatInfo) => void;

/** What emitStatusClaim takes; the SDK fills type, agent_id, beat_index, hlc and task_id. */
export interface ClaimInput {
  /** One of the nine INT-B states; `review` and `done` are accepted as deprecated aliases. */
  state: ClaimState | 'review' | 'done';
  progress?: number;
  beatsLeft?: number;
  notes?: string;
  waitFor?: string[];
  /** @default a generated `task:xxxxxxxx` */
  taskId?: string;
  /** The beat the claim speaks for. @default the current beat */
  beatIndex?: number;
}

/** Client health (the SDK seed's HealthStatus). */
export interface ClientHealth {
  connected: boolean;
  lastBeat: number;
  lastBeatTime: string | null;
  reconnectCount: number;
  localDegradation: boolean;
  currentTempo: number | null;
  tempoDrift: number;
  measuredBpm: number | null;
  errors: string[];
}

const warnedAliases = new Set<string>();
const enc = new TextEncoder();
const MAX_ERRORS = 20;

/** Lifecycle of a client. */
export type ClientState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

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
  #leaveHub: (() => void) | undefined;
  #cleanups: Array<() => void> = [];
  #callbacks = { beat: new Set<BeatCallback>(), downbeat: new Set<BeatCallback>(), phase: new Set<BeatCallback>() };
  #mapListeners = new Set<() => void>();
  #errors: string[] = [];
  #reconnects = 0;
  #lastBeatTime: number | undefined;
  #beatArrivals: number[] = [];

  constructor(options: ClientOptions) {
    this.options = resolveClientOptions(options);
    this.hlc = new Hlc(this.options.agentId, { clock: this.options.clock });
    this.#metrics = new SdkMetrics(this.options.registry);
    this.#follower = new BeatFollower(this.options.clusterId, this.options.clock, this.hlc, this.options.jitterToleranceMs, {
      fire: (frame, info) => this.#dispatch(frame, info),
      dropped: (reason) => this.#metrics.dropped(reason),
      degradation: (on) => {
        this.#metrics.degraded(on);
        this.options.logger[on ? 'warn' : 'info']({ agent: this.options.agentId }, on ? 'leader frames late: keeping time locally' : 'leader frames back: re-joined the leader');
      },
    });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Connects, subscribes to the beat and starts keeping time. Idempotent. */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'starting';
    const { clusterId, logger } = this.options;
    this.#bus = this.options.bus ?? (await NatsBus.connect(this.options.nats));
    this.#ownsBus = this.options.bus === undefined;
    const bus = this.#bus;
    this.#claims = new ClaimSender(bus, this.#metrics, this.options.maxQueuedClaims, logger);
    this.#cleanups.push(
      bus.onStatus((e) => {
        if (e.type === 'reconnect') {
          this.#reconnects++;
          void this.#claims?.drain();
        }
        if (e.type === 'error') this.#recordError(e.error.message);
      }),
    );
    try {
      await bus.ensureStream(statusStreamConfig(clusterId));
    } catch (err) {
      this.#recordError(`cannot ensure the status stream: ${(err as Error).message}`);
    }
    await this.#watchTempoMap(bus);
    this.#leaveHub = joinBeatHub(bus, clusterId, () => this.options.clock.now(), {
      frame: (frame, term, receivedAt) => this.#onFrame(frame, term, receivedAt),
      invalid: (error) => {
        this.#metrics.received();
        this.#metrics.dropped('invalid');
        this.#recordError(`invalid BeatFrame: ${error.message}`);
      },
    });
    await bus.flush();
    this.#follower.start();
    this.#state = 'running';
    logger.info({ cluster: clusterId, agent: this.options.agentId }, 'backbeat client started');
  }

  /** The tempo map from the cluster's KV state, when readable (else frames teach the grid). */
  async #watchTempoMap(bus: Bus): Promise<void> {
    try {
      const state = await openStateBucket(bus, this.options.clusterId);
      const w = await state.watch(STATE_KEYS.tempoMap, (e) => {
        if (e.operation !== 'put') return;
        try {
          this.#follower.setMap(checkTempoMap(decodeJson(e.value)));
          for (const l of this.#mapListeners) l();
        } catch (err) {
          this.#recordError(`unreadable tempo map: ${(err as Error).message}`);
        }
      });
      this.#cleanups.push(() => w.stop());
    } catch (err) {
      this.#recordError(`tempo map not readable, following frames only: ${(err as Error).message}`);
    }
  }

  /** Stops following the beat and sends what is queued (up to 2 s). Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    this.#follower.stop();
    this.#leaveHub?.();
    await this.#claims?.close(2000);
    for (const c of this.#cleanups.splice(0)) c();
    if (this.#ownsBus) await this.#bus?.close();
    this.#state = 'stopped';
  }

  #onFrame(frame: BeatFrame, term: number, receivedAt: number): void {
    this.#metrics.received();
    const u = this.hlc.update(frame.hlc);
    this.#metrics.skew(u.skewMs / 1000);
    this.#follower.onFrame(frame, term, receivedAt);
  }

  #dispatch(frame: BeatFrame, info: BeatInfo): void {
    if (info.source === 'local') this.#metrics.synthesized();
    const first = frame.phase === (frame.phases?.[0] ?? 'plan');
    if (first) {
      this.#lastBeatTime = info.receivedAt;
      if (info.source === 'leader') {
        this.#beatArrivals.push(info.receivedAt);
        if (this.#beatArrivals.length > 11) this.#beatArrivals.shift();
      }
    }
    const call = (set: Set<BeatCallback>) => {
      for (const cb of set) {
        try {
          cb(frame, info);
        } catch (err) {
          this.#recordError(`beat callback threw: ${(err as Error).message}`);
        }
      }
    };
    call(this.#callbacks.phase);
    if (first) call(this.#callbacks.beat);
    if (first && frame.downbeat) call(this.#callbacks.downbeat);
    this.#metrics.callback(this.options.clock.now() - info.receivedAt);
  }

  #recordError(message: string): void {
    this.#errors.push(`${new Date(this.options.clock.wallNow()).toISOString()} ${message}`);
    if (this.#errors.length > MAX_ERRORS) this.#errors.shift();
    this.options.logger.warn({ agent: this.options.agentId }, message);
  }

  #on(set: Set<BeatCallback>, cb: BeatCallback): () => void {
    const wrapped: BeatCallback = (f, i) => cb(f, i);
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  /** Calls `cb` once per beat (its first phase). Returns the unsubscribe function. */
  onBeat(cb: BeatCallback): () => void {
    return this.#on(this.#callbacks.beat, cb);
  }

  /** Calls `cb` once per bar (the first phase of its downbeat). */
  onDownbeat(cb: BeatCallback): () => void {
    return this.#on(this.#callbacks.downbeat, cb);
  }

  /** Calls `cb` once per (beat, phase). */
  onPhase(cb: BeatCallback): () => void {
    return this.#on(this.#callbacks.phase, cb);
  }

  /**
   * Sends a status claim (BACKBEAT-REQ-041), signed when a key is set (REQ-044), with the
   * headers of SPEC 10. Resolves when the stream acknowledged it (after a reconnect, if the
   * connection is down).
   * @throws ClaimInvalidError for input that breaks INT-B; ClientStoppedError when not running;
   *   ClaimQueueFullError when too many claims wait for the connection
   */
  async emitStatusClaim(input: ClaimInput): Promise<StatusClaim> {
    if (this.#state !== 'running' || !this.#claims) throw new ClientStoppedError('emitStatusClaim');
    const beatIndex = input.beatIndex ?? this.currentBeat;
    if (beatIndex < 0) throw new NoBeatError('emitStatusClaim');
    const hlc = this.hlc.nowString();
    const claim: Record<string, unknown> = {
      type: 'backbeat.statusclaim.v1',
      agent_id: this.options.agentId,
      task_id: input.taskId ?? `task:${randomBytes(4).toString('hex')}`,
      beat_index: beatIndex,
      state: canonicalState(input.state, this.options.logger),
      hlc,
    };
    if (input.progress !== undefined) claim.progress = input.progress;
    if (input.beatsLeft !== undefined) claim.beats_left = input.beatsLeft;
    if (input.notes !== undefined) claim.notes = input.notes;
    if (input.waitFor !== undefined) claim.wait_for = input.waitFor;
    const v = validateStatusClaim(claim);
    if (!v.valid) {
      this.#metrics.failed('invalid');
      throw new ClaimInvalidError(v.errors);
    }
    const payload = enc.encode(JSON.stringify(v.value));
    const barLength = this.#follower.map?.barLength ?? 8;
    const headers: Record<string, string> = {
      'x-agent-id': this.options.agentId,
      'x-window-id': windowIdForBeat(this.options.clusterId, beatIndex, barLength),
      'x-hlc': hlc,
    };
    if (this.options.signingKey) headers['x-signature'] = signPayload(this.options.signingKey, payload);
    await this.#claims.send(subjects(this.options.clusterId).status, payload, headers, `${this.options.agentId}|${hlc}`);
    return v.value;
  }

  /**
   * Runs `fn` with a budget of `beats` beats (BACKBEAT-REQ-042): when beat current + beats
   * starts on the grid, `signal` is aborted and the promise rejects with BeatBudgetExceededError.
   * @throws NoBeatError before the first beat
   */
  withBeatBudget<T>(beats: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!Number.isSafeInteger(beats) || beats < 1) return Promise.reject(new RangeError(`beat budget must be a whole number >= 1, got ${beats}`));
    if (this.currentBeat < 0 || !this.#follower.map) return Promise.reject(new NoBeatError('withBeatBudget'));
    const onChange = (l: () => void) => {
      this.#mapListeners.add(l);
      return () => this.#mapListeners.delete(l);
    };
    return runWithBudget(this.options.clock, () => this.#follower.map, onChange, this.currentBeat, beats, fn);
  }

  /** Index of the current beat (-1 before the first). */
  get currentBeat(): number {
    return this.#follower.last?.beatIndex ?? -1;
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
    const a = this.#beatArrivals;
    if (a.length < 2) return null;
    return 60_000 / ((a[a.length - 1]! - a[0]!) / (a.length - 1));
  }

  /** Legacy {bar, beat} of a beat index (REQ-043). */
  toLegacy(beatIndex: number): LegacyBeat {
    return legacyOf(beatIndex, this.#follower.map?.barLength ?? 8);
  }

  /** Health, as the SDK seed's HealthStatus. */
  health(): ClientHealth {
    return {
      connected: this.#bus?.status().connected ?? false,
      lastBeat: this.currentBeat,
      lastBeatTime: this.#lastBeatTime === undefined ? null : new Date(this.#lastBeatTime).toISOString(),
      reconnectCount: this.#reconnects,
      localDegradation: this.#follower.degraded,
      currentTempo: this.currentTempo,
      tempoDrift: this.tempoDrift(),
      measuredBpm: this.#measuredBpm(),
      errors: [...this.#errors],
    };
  }

  /** Counters and latencies (a copy). */
  metrics(): SdkMetricsSnapshot {
    return structuredClone(this.#metrics.snapshot);
  }

  /** Physical part of the last HLC reading: for tests and tools. */
  hlcPhysical(): number {
    return parseHlc(this.hlc.nowString()).physical;
  }
}

/** Maps the SDK seed's aliases onto INT-B states, warning once per alias (REQ-043, SPEC 9). */
function canonicalState(state: string, log: { warn(o: object, m?: string): void }): string {
  const alias = (LEGACY_STATE_ALIASES as Record<string, string>)[state];
  if (!alias) return state;
  if (!warnedAliases.has(state)) {
    warnedAliases.add(state);
    const message = `status state '${state}' is deprecated: use '${alias}'`;
    log.warn({ state, use: alias }, message);
    process.emitWarning(message, { type: 'DeprecationWarning', code: 'BB_DEP_STATE_ALIAS' });
  }
  return alias;
}

/**
 * Creates a client; call start() to connect.
 * @throws InvalidArgumentError at once for a bad agent id, cluster id or key
 */
export function createClient(options: ClientOptions): Client {
  return new Client(options);
}
