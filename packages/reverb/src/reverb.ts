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
import { AGENT_ID_HEADER, SIGNATURE_HEADER, type BarReport, type BeatFrame } from '@backbeat/contracts';
import { createClient, type BeatCallback, type BeatInfo, type Client } from '@backbeat/sdk';
import type { Consumer, DurableMsg, Headers, StoredMsg } from '@backbeat/transport';
import { ClaimPipeline } from './claim-pipeline.js';
import { consumerName } from './consumers.js';
import { HandledWaiters } from './handled-waiters.js';
import { readReports, type ReportPage, type ReportQuery } from './history.js';
import type { ClaimEvent, ClaimSource, IngestOutcome, LedgerEffect, LedgerEvent } from './ledger/events.js';
import { barLengthOf, createLedger, type LedgerState } from './ledger/state.js';
import { step } from './ledger/step.js';
import type { WindowAggregation } from './ledger/window.js';
import { createReverbMetrics, type ReverbMetrics } from './metrics.js';
import { resolveReverbOptions, type ResolvedReverbOptions, type ReverbOptions } from './options.js';
import { broadcastReport, deadLetter } from './publish.js';
import { ReportPump } from './report-pump.js';
import { claimStreamState, ensureReverbStreams, openConsumer, startReverbPresence, warnSignatureMode } from './start-up.js';
import { rebuild } from './rebuild.js';
import type { SignatureCheck, TrustStore } from './trust.js';
import { VerifyPool } from './verify-pool.js';

/** Lifecycle of the service. */
export type ReverbState = LifecycleState;

export type { ClaimSource, IngestOutcome } from './ledger/events.js';

/** A claim between delivery and counting (see ClaimPipeline). */
interface DeliveredClaim {
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly storedAt: number;
  readonly source: ClaimSource;
  readonly seq: number;
  /** Called with the outcome once counted (the consumer's ack). */
  readonly done: (outcome: IngestOutcome) => void;
}

/** One reverb replica. */
export class Reverb {
  readonly options: ResolvedReverbOptions & { readonly bus: ReverbOptions['bus'] };
  readonly metrics: ReverbMetrics;
  readonly hlc: Hlc;
  readonly startedAt: number;
  /** This replica's durable consumer on the claim stream. */
  readonly consumer: string;
  #state: ReverbState = 'created';
  #trust: TrustStore | undefined;
  #client: Client | undefined;
  #consumer: Consumer | undefined;
  #presence: { stop(): Promise<void> } | undefined;
  #sweeper: ReturnType<ResolvedReverbOptions['clock']['setTimeout']> | undefined;
  /** The bar ledger: every count and every report decision (ledger/step.ts). */
  readonly #ledger: LedgerState;
  readonly #waiters: HandledWaiters;
  readonly #pump: ReportPump;
  /** Claims stepped and not answered yet (held while a report is stored), by event id. */
  readonly #answers = new Map<number, (outcome: IngestOutcome) => void>();
  #nextId = 1;
  #lastReport: BarReport | undefined;
  #lastReportAt: number | undefined;
  #rebuildFrom: number | undefined;
  /** The tempo map read from the state bucket at start, until the SDK has one. */
  #stateMap: TempoMap | null = null;
  #httpAddress: string | undefined;
  #reportListeners = new Set<(r: BarReport, timing: { publishedMs: number }) => void>();
  #claimListeners = new Set<(windowId: string) => void>();
  /** Delivered claims in order, their signatures checked on the verify threads. */
  readonly #pipeline: ClaimPipeline<DeliveredClaim>;
  /** Started at the first signed claim to check on a thread. */
  #pool: VerifyPool | undefined;

  constructor(options: ReverbOptions) {
    this.options = Object.freeze({ ...resolveReverbOptions(options), bus: options.bus });
    const o = this.options;
    this.metrics = createReverbMetrics(o.registry);
    this.hlc = new Hlc(o.nodeId, { clock: o.clock });
    this.#trust = o.trust;
    this.startedAt = o.clock.wallNow();
    this.consumer = consumerName(o.nodeId);
    const { clusterId, nodeId, signatures, maxClaimBytes, replayBars, maxClaimDelayMs, windowTtlMs, maxWindows } = o;
    const config = { clusterId, nodeId, signatures, maxClaimBytes, replayBars, maxClaimDelayMs, windowTtlMs, maxWindows };
    this.#ledger = createLedger({ ...config, barLength: o.barLength });
    this.#ledger.trust = this.#trust;
    this.#waiters = new HandledWaiters(o.clock, () => this.#ledger.handled.upTo);
    const host = { options: o, metrics: this.metrics, hlc: this.hlc, ledger: this.#ledger, apply: (e: LedgerEvent) => this.#apply(e) };
    this.#pump = new ReportPump({
      ...host,
      ingestStored: (m) => this.#ingestStored(m, 'live'),
      whenHandled: (target, ms) => this.#waiters.whenHandled(target, ms),
      active: () => this.#state === 'starting' || this.#state === 'running',
      rebuildFrom: () => this.#rebuildFrom,
    });
    this.#pipeline = new ClaimPipeline<DeliveredClaim>({
      toCheck: (c) => (c.seq > 0 && this.#ledger.handled.has(c.seq) ? undefined : this.#threadCheck(c.headers, c.data)),
      check: (agent, payload, signature) => this.#verifyPool().check(agent, payload, signature),
      apply: (c, check) => void this.#count(c, c.done, check),
      onError: (err) => o.logger.error({ err: (err as Error).message }, 'a claim listener failed'),
    });
  }

  /** The signature check a verify thread makes for this claim; undefined when it is checked here or needs none. */
  #threadCheck(headers: Headers, data: Uint8Array): { agent: string; payload: Uint8Array; signature: string } | undefined {
    const agent = headers[AGENT_ID_HEADER];
    const signature = headers[SIGNATURE_HEADER];
    if (this.options.verifyThreads === 0 || !this.#trust || !agent || !signature) return undefined;
    if (this.options.signatures === 'off' && !this.#trust.knows(agent)) return undefined; // ignored: not listed
    if (data.length > this.options.maxClaimBytes) return undefined; // refused before any check
    return { agent, payload: data, signature };
  }

  #verifyPool(): VerifyPool {
    this.#pool ??= new VerifyPool(this.options.verifyThreads, this.#trust!);
    return this.#pool;
  }

  /** Steps the ledger (the tempo map first, when it changed) and carries out the effects. */
  #apply(e: LedgerEvent): LedgerEffect[] {
    const now = this.options.clock.now();
    if (this.tempoMap !== this.#ledger.map) this.#do(step(this.#ledger, { type: 'tempo', map: this.tempoMap }, now).effects);
    const { effects } = step(this.#ledger, e, now);
    this.#do(effects);
    this.#waiters.check();
    return effects;
  }

  #do(effects: readonly LedgerEffect[]): void {
    const { bus, clusterId, logger } = this.options;
    for (const fx of effects) {
      switch (fx.type) {
        case 'outcome': {
          const answer = this.#answers.get(fx.id);
          this.#answers.delete(fx.id);
          answer?.(fx.outcome);
          break;
        }
        case 'dead-letter':
          deadLetter(bus, clusterId, fx.data, fx.headers, fx.reason, fx.message, logger);
          break;
        case 'claim-counted':
          this.metrics.claims.inc({ outcome: fx.outcome });
          if (fx.reason !== undefined && fx.outcome === 'rejected') this.metrics.rejected.inc({ reason: fx.reason });
          break;
        case 'claim-accepted':
          for (const l of this.#claimListeners) {
            try {
              l(fx.windowId);
            } catch (err) {
              logger.error({ err: (err as Error).message }, 'a claim listener failed');
            }
          }
          break;
        case 'merge-hlc':
          this.hlc.update(fx.hlc);
          break;
        case 'report-waits':
          logger.warn({ window: this.#ledger.windows.id(fx.fromBeat), cut: fx.cut, max_seq: fx.maxSeq }, 'claims above a gap in the handled sequences; the report waits');
          break;
        case 'report-done':
          this.#reported(fx);
          break;
        case 'report-failed':
          if (fx.why === 'store') this.metrics.reportFailures.inc();
          break;
        case 'log':
          logger[fx.level](fx.fields, fx.msg);
          break;
        case 'store-report':
        case 'report-known':
          break;
      }
    }
    this.metrics.activeWindows.set(this.#ledger.windows.size);
  }

  /** A bar's report is the record: broadcast it when this replica's copy is the one stored, tell the listeners. */
  #reported(fx: Extract<LedgerEffect, { type: 'report-done' }>): void {
    const { bus, clusterId, clock, logger } = this.options;
    const published = fx.report;
    if (fx.broadcast) {
      broadcastReport(bus, clusterId, published, logger);
      this.metrics.reports.inc();
    }
    const publishedMs = Math.max(0, clock.now() - fx.due); // closing downbeat to report published
    this.metrics.rollup.observe(publishedMs / 1000);
    this.metrics.agentsReporting.set(published.agents_reporting);
    this.#lastReport = published;
    this.#lastReportAt = clock.wallNow();
    for (const l of this.#reportListeners) l(published, { publishedMs });
    const { claims_processed: claims } = published.performance ?? {};
    const fields = { claims, late: published.late_claims, cut: fx.cut, window: published.window_id, from_beat: fx.fromBeat };
    logger.debug({ ...fields, agents: published.agents_reporting, duplicate: !fx.builtHere, moved: fx.moved, rollup_ms: Math.round(publishedMs * 1000) / 1000 }, 'bar report');
  }

  /** Counts one claim; `answer` gets the outcome once known (at once, or after a report in flight is stored). */
  #count(c: Omit<DeliveredClaim, 'done'>, answer: ((o: IngestOutcome) => void) | undefined, signature?: SignatureCheck): IngestOutcome | 'held' {
    const id = this.#nextId++;
    let outcome: IngestOutcome | undefined;
    this.#answers.set(id, (o) => {
      outcome = o;
      answer?.(o);
    });
    const e: ClaimEvent = { type: 'claim', id, ...c, wall: this.options.clock.wallNow(), followedBeat: this.currentBeat, ...(signature ? { signature } : {}) };
    this.#apply(e);
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
    this.#trust = trust;
    this.#apply({ type: 'trust', trust });
    this.#pool?.setTrust(trust);
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
    const { replicas, statusStream } = await ensureReverbStreams(this.options);
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
    this.#consumer = await openConsumer(bus, statusStream, this.consumer, recovery.startTime, (msg) => this.#onDelivery(msg));
    this.#scheduleSweep();
    this.#presence = await startReverbPresence(this.options, replicas, () => this.#presenceInfo());
    this.#state = 'running';
    logger.info({ cluster: clusterId, node: nodeId, consumer: this.consumer, signatures: this.options.signatures, bar: this.barLength }, 'reverb started');
    warnSignatureMode(this.options, this.#trust);
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

  #presenceInfo(): Record<string, unknown> {
    return {
      http: this.#httpAddress ?? null,
      consumer: this.consumer,
      last_report_window: this.#lastReport?.window_id ?? null,
      last_report_from_beat: this.#lastReport?.from_beat ?? null,
      last_report_at: this.#lastReportAt === undefined ? null : new Date(this.#lastReportAt).toISOString(),
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
    this.#pipeline.submit({ data: msg.data, headers: msg.headers, storedAt: msg.time, source, seq: msg.seq, done: () => msg.ack() });
  }

  /** Stops reporting, consuming and following; idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    if (this.#sweeper) this.options.clock.clearTimeout(this.#sweeper);
    await this.#consumer?.stop();
    await this.#pipeline.idle();
    await this.#pool?.close();
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
  ingest(data: Uint8Array, headers: Headers, storedAt: number, source: ClaimSource = 'live', seq = 0): IngestOutcome | 'held' {
    return this.#count({ data, headers, storedAt, source, seq }, undefined);
  }

  /**
   * {@link ingest}, with the signature checked on a verify thread (`verifyThreads`); claims
   * are counted in the order they were given, the outcome resolves once this one is.
   */
  ingestAsync(data: Uint8Array, headers: Headers, storedAt: number, source: ClaimSource = 'live', seq = 0): Promise<IngestOutcome> {
    return new Promise((done) => this.#pipeline.submit({ data, headers, storedAt, source, seq, done }));
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
    return this.#lastReport;
  }

  /** Calls `cb` for every (beat, phase) reverb follows (the SDK's onPhase). Call after start(). */
  onPhase(cb: BeatCallback): () => void {
    return this.#client!.onPhase(cb);
  }

  /** Calls `l` with every report this replica publishes, and the time from the downbeat frame to its publication. */
  onReport(l: (r: BarReport, timing: { publishedMs: number }) => void): () => void {
    this.#reportListeners.add(l);
    return () => this.#reportListeners.delete(l);
  }

  /** Calls `l` with the window id of every accepted claim. */
  onClaim(l: (windowId: string) => void): () => void {
    this.#claimListeners.add(l);
    return () => this.#claimListeners.delete(l);
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
