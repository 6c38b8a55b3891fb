/**
 * The reverb service (BACKBEAT-REQ-020..022), a thin shell around the bar ledger (ledger/):
 * it turns consumer deliveries, stream reads, downbeats and store answers into ledger events
 * and carries out the effects (acknowledge, dead-letter, publish, metrics, listeners). Claims
 * come from a durable JetStream consumer, in delivery order through the signature threads
 * (claim-pipeline.ts); reports go out through the pump (report-pump.ts); a start rebuilds what
 * a stop lost (rebuild.ts). One entry per claim's life: delivery -> pipeline -> ledger step ->
 * effects.
 */
import { Hlc, type LifecycleState, type TempoMap } from '@backbeat/core';
import type { BarReport, BeatFrame } from '@backbeat/contracts';
import { createClient, type BeatCallback, type BeatInfo, type Client } from '@backbeat/sdk';
import type { Consumer, DurableMsg, Headers, StoredMsg } from '@backbeat/transport';
import { ClaimIntake, type DeliveredClaim } from './claim-intake.js';
import { consumerName } from './consumers.js';
import { LedgerEffects, type ReportListener } from './effects.js';
import { HandledWaiters } from './handled-waiters.js';
import { readReports, type ReportPage, type ReportQuery } from './history.js';
import type { ClaimSource, IngestOutcome, LedgerEffect, LedgerEvent } from './ledger/events.js';
import { barLengthOf, createLedger, type LedgerState } from './ledger/state.js';
import { step } from './ledger/step.js';
import type { WindowAggregation } from './ledger/window.js';
import { createReverbMetrics, type ReverbMetrics } from './metrics.js';
import { resolveReverbOptions, type ResolvedReverbOptions, type ReverbOptions } from './options.js';
import { ReportPump } from './report-pump.js';
import {
  claimStreamState,
  ensureReverbStreams,
  openConsumer,
  startReverbPresence,
  warnSignatureMode,
} from './start-up.js';
import { rebuild } from './rebuild.js';
import type { SignatureCheck, TrustStore } from './trust.js';

/** Lifecycle of the service. */
export type ReverbState = LifecycleState;

export type { ClaimSource, IngestOutcome } from './ledger/events.js';

/** One reverb replica. */
export class Reverb {
  readonly options: ResolvedReverbOptions & { readonly bus: ReverbOptions['bus'] };
  readonly metrics: ReverbMetrics;
  readonly hlc: Hlc;
  readonly startedAt: number;
  /** This replica's durable consumer on the claim stream. */
  readonly consumer: string;
  #state: ReverbState = 'created';
  #client: Client | undefined;
  #consumer: Consumer | undefined;
  #presence: { stop(): Promise<void> } | undefined;
  #sweeper: ReturnType<ResolvedReverbOptions['clock']['setTimeout']> | undefined;
  /** The bar ledger: every count and every report decision (ledger/step.ts). */
  readonly #ledger: LedgerState;
  readonly #waiters: HandledWaiters;
  readonly #pump: ReportPump;
  readonly #effects: LedgerEffects;
  #rebuildFrom: number | undefined;
  /** The tempo map read from the state bucket at start, until the SDK has one. */
  #stateMap: TempoMap | null = null;
  #httpAddress: string | undefined;
  readonly #intake: ClaimIntake;

  constructor(options: ReverbOptions) {
    this.options = Object.freeze({ ...resolveReverbOptions(options), bus: options.bus });
    const o = this.options;
    this.metrics = createReverbMetrics(o.registry);
    this.hlc = new Hlc(o.nodeId, { clock: o.clock });
    this.startedAt = o.clock.wallNow();
    this.consumer = consumerName(o.nodeId);
    this.#ledger = createLedger(o); // reads the settings it needs (LedgerConfig)
    this.#effects = new LedgerEffects(o, this.metrics, this.hlc, this.#ledger);
    this.#waiters = new HandledWaiters(o.clock, () => this.#ledger.handled.upTo);
    this.#apply({ type: 'trust', trust: o.trust });
    const host = {
      options: o,
      metrics: this.metrics,
      hlc: this.hlc,
      ledger: this.#ledger,
      apply: this.#apply.bind(this),
    };
    this.#pump = new ReportPump({
      ...host,
      ingestStored: (m) => this.#ingestStored(m, 'live'),
      whenHandled: (target, ms) => this.#waiters.whenHandled(target, ms),
      active: () => this.#state === 'starting' || this.#state === 'running',
      rebuildFrom: () => this.#rebuildFrom,
    });
    const intake = { options: o, handled: this.#ledger.handled };
    this.#intake = new ClaimIntake({ ...intake, count: (c, check) => void this.#count(c, c.done, check) }, o.trust);
  }

  /** Steps the ledger (the tempo map first, when it changed) and carries out the effects. */
  #apply(e: LedgerEvent): LedgerEffect[] {
    const now = this.options.clock.now();
    if (this.tempoMap !== this.#ledger.map)
      this.#effects.run(step(this.#ledger, { type: 'tempo', map: this.tempoMap }, now).effects);
    const { effects } = step(this.#ledger, e, now);
    this.#effects.run(effects);
    this.#waiters.check();
    return effects;
  }

  /** Counts one claim; `answer` gets the outcome once known (at once, or after a report in flight is stored). */
  #count(
    c: Omit<DeliveredClaim, 'done'>,
    answer?: (o: IngestOutcome) => void,
    signature?: SignatureCheck,
  ): IngestOutcome | 'held' {
    let outcome: IngestOutcome | undefined;
    const id = this.#effects.expect((o) => {
      outcome = o;
      answer?.(o);
    });
    const wall = this.options.clock.wallNow();
    this.#apply({ type: 'claim', id, ...c, wall, followedBeat: this.currentBeat, ...(signature ? { signature } : {}) });
    return outcome ?? 'held';
  }

  #ingestStored(m: StoredMsg, source: ClaimSource): void {
    this.#count({ data: m.data, headers: m.headers, storedAt: m.time, source, seq: m.seq }, undefined);
  }

  /** Where the service is in its lifecycle. */
  get state(): ReverbState {
    return this.#state;
  }

  /** Replaces the trust store (a reloaded trust file). */
  setTrust(trust: TrustStore): void {
    this.#apply({ type: 'trust', trust });
    this.#intake.setTrust(trust);
  }

  /** The HTTP address announced in presence (set by whoever listens). */
  setHttpAddress(address: string): void {
    this.#httpAddress = address;
  }

  /** Beats per bar: the option, else the pulse's tempo map, else DEFAULT_BAR_LENGTH until one is known. */
  get barLength(): number {
    return this.options.barLength ?? this.tempoMap?.barLength ?? barLengthOf(this.#ledger);
  }

  /** Current beat as followed (-1 before the first). */
  get currentBeat(): number {
    return this.#client?.currentBeat ?? -1;
  }

  /** The pulse's tempo map, once known. */
  get tempoMap(): TempoMap | null {
    return this.#client?.tempoMap ?? this.#stateMap;
  }

  /**
   * Follows the beat, rebuilds from the claim stream what a stop lost, reports the bars that
   * ended meanwhile, then resumes the durable consumer and announces itself.
   */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'starting';
    const { bus, clusterId, nodeId, logger, clock } = this.options;
    const { replicas, statusStream, serverBroadcasts } = await ensureReverbStreams(this.options);
    this.#effects.broadcastsOwnCopies = !serverBroadcasts;
    this.#client = createClient({ clusterId, agentId: `service:${nodeId}`, bus, clock, logger });
    this.#client.onDownbeat((frame, info) => this.#onDownbeat(frame, info));
    await this.#client.start();
    // Everything stored before this start is either rebuilt now or belongs to bars already reported.
    const state = await claimStreamState(this.options, statusStream);
    const recovery = await rebuild(this.#rebuildHost(), state.lastSeq, state.messages > 0 ? state.firstSeq : undefined);
    if (recovery === undefined) return; // stopped meanwhile
    this.#rebuildFrom = recovery.readFrom;
    // Claims up to handledUpTo were all read now, or a new durable takes only later ones; when
    // an existing durable resumes without a rebuild, the consumer delivers the rest.
    if (recovery.handledUpTo !== undefined) this.#apply({ type: 'read-through', seq: recovery.handledUpTo });
    this.#apply({ type: 'recovered' });
    this.#pump.kick();
    this.#consumer = await openConsumer(bus, statusStream, this.consumer, recovery.startTime, (msg) =>
      this.#onDelivery(msg),
    );
    this.#scheduleSweep();
    this.#presence = await startReverbPresence(this.options, replicas, () =>
      this.#effects.presenceInfo(this.#httpAddress, this.consumer),
    );
    this.#state = 'running';
    logger.info(
      {
        cluster: clusterId,
        node: nodeId,
        consumer: this.consumer,
        signatures: this.options.signatures,
        bar: this.barLength,
      },
      'reverb started',
    );
    warnSignatureMode(this.options, this.#ledger.trust);
  }

  #rebuildHost(): Parameters<typeof rebuild>[0] {
    return {
      options: this.options,
      metrics: this.metrics,
      hlc: this.hlc,
      ledger: this.#ledger,
      consumer: this.consumer,
      apply: (e) => this.#apply(e),
      ingestStored: (m, source) => this.#ingestStored(m, source),
      whenHandled: (target, ms) => this.#waiters.whenHandled(target, ms),
      active: () => this.#state === 'starting',
      tempoMap: () => this.tempoMap,
      setStateMap: (map) => void (this.#stateMap = map),
      publish: (fromBeat) => this.#pump.publish(fromBeat, false),
      untilDone: (what, fn) => this.#untilDone(what, fn),
      sleep: (ms) => this.#sleep(ms),
    };
  }

  /** Runs `fn` until it succeeds, waiting `retryMs` after each failure; undefined once the replica stops. */
  async #untilDone<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    while (this.#state === 'starting') {
      try {
        return await fn();
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, `${what} failed; retrying`);
        await this.#sleep(this.options.retryMs);
      }
    }
    return undefined;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.clock.setTimeout(resolve, ms));
  }

  #onDelivery(msg: DurableMsg): void {
    const source = msg.redelivered ? 'redelivered' : 'live';
    const { data, headers, time: storedAt, seq } = msg;
    this.#intake.submit({ data, headers, storedAt, source, seq, done: () => msg.ack() });
  }

  /** Stops reporting, consuming and following; idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    if (this.#sweeper) this.options.clock.clearTimeout(this.#sweeper);
    await this.#consumer?.stop();
    await this.#intake.close();
    await this.#pump.stop();
    await this.#presence?.stop();
    await this.#client?.stop();
    this.#state = 'stopped';
  }

  /**
   * Checks and counts one claim; a refused one goes to the dead-letter subject with the
   * reason in a header (not for `history`). Never throws. A claim is a replay only when the
   * same claim (agent and HLC, the SDK's Nats-Msg-Id) was counted from another stream
   * message; the same message again (same `seq`) is a duplicate, silently skipped. While a
   * report is being stored the claim waits and `held` comes back ({@link ingestAsync} resolves then).
   */
  ingest(
    data: Uint8Array,
    headers: Headers,
    storedAt: number,
    source: ClaimSource = 'live',
    seq = 0,
  ): IngestOutcome | 'held' {
    return this.#count({ data, headers, storedAt, source, seq }, undefined);
  }

  /**
   * {@link ingest}, with the signature checked on a verify thread (`verifyThreads`); claims
   * are counted in the order they were given, the outcome resolves once this one is.
   */
  ingestAsync(
    data: Uint8Array,
    headers: Headers,
    storedAt: number,
    source: ClaimSource = 'live',
    seq = 0,
  ): Promise<IngestOutcome> {
    return new Promise((done) => this.#intake.submit({ data, headers, storedAt, source, seq, done }));
  }

  #onDownbeat(frame: BeatFrame, info: BeatInfo): void {
    const at = { receivedAt: info.receivedAt, scheduledAt: info.scheduledAt, source: info.source };
    this.#apply({ type: 'downbeat', beat: frame.beat_index, at });
    if (frame.beat_index >= this.barLength) this.#pump.kick();
  }

  #scheduleSweep(): void {
    this.#sweeper = this.options.clock.setTimeout(() => {
      this.#apply({ type: 'sweep' });
      this.#pump.kick();
      if (this.#state === 'running') this.#scheduleSweep();
    }, 5000);
  }

  /** Windows held, newest first. */
  windows(): WindowAggregation[] {
    return this.#ledger.windows.list();
  }

  /** The window with this id, when held. */
  window(id: string): WindowAggregation | undefined {
    return this.#ledger.windows.find(id);
  }

  /** The last report this replica stored (or found stored by another replica). */
  get lastReport(): BarReport | undefined {
    return this.#effects.lastReport;
  }

  /** Calls `cb` for every (beat, phase) reverb follows (the SDK's onPhase). Call after start(). */
  onPhase(cb: BeatCallback): () => void {
    return this.#client!.onPhase(cb);
  }

  /** Calls `l` with every report this replica publishes, and the time from the downbeat frame to its publication. */
  onReport(l: ReportListener): () => void {
    this.#effects.reportListeners.add(l);
    return () => this.#effects.reportListeners.delete(l);
  }

  /** Calls `l` with the window id of every accepted claim. */
  onClaim(l: (windowId: string) => void): () => void {
    this.#effects.claimListeners.add(l);
    return () => this.#effects.claimListeners.delete(l);
  }

  /** A page of stored reports (see {@link readReports}). @throws JetStreamNotFoundError */
  reports(q: ReportQuery): Promise<ReportPage> {
    return readReports(this.options.bus, this.options.clusterId, q);
  }

  /** Reports from the stream, oldest first: from a beat (else the newest), at most `limit`. */
  async history(fromBeat: number | undefined, limit: number): Promise<BarReport[]> {
    return (await this.reports({ fromBeat, limit })).reports;
  }

  /** Ready: running and connected. */
  isReady(): boolean {
    return this.#state === 'running' && this.options.bus.status().connected;
  }
}
