/**
 * The reverb service (BACKBEAT-REQ-020..022): ingests StatusClaims from a durable JetStream
 * consumer, checks each, aggregates per window, and at each downbeat publishes the BarReport
 * of the bar that ended (an empty bar included), stored de-duplicated by window id.
 *
 * Crash safety (docs/spec.md §9 Reverb): at start it rebuilds, from the claim stream, every bar that ended
 * without a stored report and the bar in progress, then reports the missed bars in order
 * (marked `built_late`). Reports go out strictly in bar order; one whose store fails is
 * retried and never sealed unsent.
 */
import { Hlc, timeOf, type LifecycleState, type TempoMap } from '@backbeat/core';
import type { BarReport, BeatFrame } from '@backbeat/contracts';
import { createClient, type BeatCallback, type BeatInfo, type Client } from '@backbeat/sdk';
import { assertServerVersion, clusterNames, dlqStreamConfig, ensureStreamReplicated, readTempoMap, reportStreamConfig, resolveReplicas, retryTransient, startPresence, statusStreamConfig, type ReplicaMismatchError, subjects, type Consumer, type DurableMsg, type Headers, type StoredMsg } from '@backbeat/transport';
import { ClaimCounter, type ClaimSource, type IngestOutcome } from './claim-counter.js';
import { ClaimPipeline } from './claim-pipeline.js';
import { ClaimStreamReader, pageLimitFor } from './claim-stream.js';
import { claimCutOf, deadLetter, storeReport } from './publish.js';
import { consumerName } from './consumers.js';
import { readReports, decodeStoredReport, type ReportPage, type ReportQuery } from './history.js';
import { createReverbMetrics, type ReverbMetrics } from './metrics.js';
import { DEFAULT_BAR_LENGTH, resolveReverbOptions, type ResolvedReverbOptions, type ReverbOptions } from './options.js';
import { planRecovery } from './recovery.js';
import { reportTiming, type Downbeat } from './report-timing.js';
import type { TrustStore } from './trust.js';
import { VerifyPool } from './verify-pool.js';
import type { WindowAggregation } from './window.js';
import { WindowStore } from './window-store.js';

/** A bar rebuilt at start counts the claims stored up to one beat, and at least this long, after it ended (ms). */
export const REBUILD_GRACE_MS = 1000;

/** Lifecycle of the service. */
export type ReverbState = LifecycleState;

export type { ClaimSource, IngestOutcome } from './claim-counter.js';

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
  readonly #windows: WindowStore;
  #downbeats = new Map<number, Downbeat>();
  #sweeper: ReturnType<ResolvedReverbOptions['clock']['setTimeout']> | undefined;
  #retry: ReturnType<ResolvedReverbOptions['clock']['setTimeout']> | undefined;
  #lastReport: BarReport | undefined;
  #lastReportAt: number | undefined;
  /** from_beat of the last bar whose report is stored; undefined before the first. */
  #reportedUpTo: number | undefined;
  /**
   * The claim cut of the last stored report (docs/spec.md §9 Reverb): every claim-stream
   * message up to it is counted by that report or an earlier one. Undefined when not known.
   */
  #reportedCut: number | undefined;
  /** from_beat of the last bar that ended (its report is due). */
  #dueUpTo = -1;
  #recovered = false;
  #pumping: Promise<void> | undefined;
  /** Checks and counts each claim (and knows the stream sequences handled). */
  readonly #counter: ClaimCounter;
  /** Where the start-up re-read of the claim stream began (ms since the epoch). */
  #rebuildFrom: number | undefined;
  /** The tempo map read from the state bucket at start, until the SDK has one. */
  #stateMap: TempoMap | null = null;
  /** When the last report found at start was stored. */
  #lastStoredReportAt: number | undefined;
  #httpAddress: string | undefined;
  #reportListeners = new Set<(r: BarReport, timing: { publishedMs: number }) => void>();
  #claimListeners = new Set<(windowId: string) => void>();
  /** Delivered claims in order, their signatures checked on the verify threads. */
  readonly #pipeline: ClaimPipeline<DeliveredClaim>;
  /** Started at the first signed claim to check on a thread. */
  #pool: VerifyPool | undefined;

  constructor(options: ReverbOptions) {
    this.options = Object.freeze({ ...resolveReverbOptions(options), bus: options.bus });
    this.metrics = createReverbMetrics(this.options.registry);
    this.hlc = new Hlc(this.options.nodeId, { clock: this.options.clock });
    this.#trust = this.options.trust;
    this.startedAt = this.options.clock.wallNow();
    this.consumer = consumerName(this.options.nodeId);
    this.#windows = new WindowStore({
      clusterId: this.options.clusterId,
      barLength: () => this.barLength,
      ttlMs: this.options.windowTtlMs,
      maxWindows: this.options.maxWindows,
      onSize: (n) => this.metrics.activeWindows.set(n),
    });
    const { bus, clusterId, logger } = this.options;
    this.#counter = new ClaimCounter({
      options: this.options,
      metrics: this.metrics,
      hlc: this.hlc,
      windows: this.#windows,
      trust: () => this.#trust,
      barLength: () => this.barLength,
      tempoMap: () => this.tempoMap,
      currentBeat: () => this.currentBeat,
      reportedUpTo: () => this.#reportedUpTo,
      reportedCut: () => this.#reportedCut,
      recovered: () => this.#recovered,
      lastStoredReportAt: () => this.#lastStoredReportAt,
      deadLetter: (data, headers, reason, message) => deadLetter(bus, clusterId, data, headers, reason, message, logger),
      onAccepted: (windowId) => {
        for (const l of this.#claimListeners) l(windowId);
      },
    });
    this.#pipeline = new ClaimPipeline<DeliveredClaim>({
      toCheck: (c) => (c.seq > 0 && this.#counter.handled.has(c.seq) ? undefined : this.#threadCheck(c.headers, c.data)),
      check: (agent, payload, signature) => this.#verifyPool().check(agent, payload, signature),
      apply: (c, check) => c.done(this.#counter.ingest(c.data, c.headers, c.storedAt, c.source, c.seq, check)),
      onError: (err) => this.options.logger.error({ err: (err as Error).message }, 'a claim listener failed'),
    });
  }

  /** The signature check a verify thread makes for this claim; undefined when it is checked here or needs none. */
  #threadCheck(headers: Headers, data: Uint8Array): { agent: string; payload: Uint8Array; signature: string } | undefined {
    const agent = headers['x-agent-id'];
    const signature = headers['x-signature'];
    if (this.options.verifyThreads === 0 || !this.#trust || !agent || !signature) return undefined;
    if (this.options.signatures === 'off' && !this.#trust.knows(agent)) return undefined; // ignored: not listed
    if (data.length > this.options.maxClaimBytes) return undefined; // refused before any check
    return { agent, payload: data, signature };
  }

  #verifyPool(): VerifyPool {
    this.#pool ??= new VerifyPool(this.options.verifyThreads, this.#trust!);
    return this.#pool;
  }

  /** Where the service is in its lifecycle. */
  get state(): ReverbState {
    return this.#state;
  }

  /** Replaces the trust store (a reloaded trust file). */
  setTrust(trust: TrustStore): void {
    this.#trust = trust;
    this.#pool?.setTrust(trust);
  }

  /** The HTTP address announced in presence (set by whoever listens). */
  setHttpAddress(address: string): void {
    this.#httpAddress = address;
  }

  /** Beats per bar: the option, else the pulse's tempo map, else DEFAULT_BAR_LENGTH until one is known. */
  get barLength(): number {
    return this.options.barLength ?? this.tempoMap?.barLength ?? DEFAULT_BAR_LENGTH;
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
    // Reverb owns the claim, report and dead-letter streams, each with the same replica count (docs/decisions/0001-replicated-state.md).
    const replicas = await resolveReplicas(bus, this.options.replicas);
    assertServerVersion(bus, replicas, logger);
    const onMismatch = (e: ReplicaMismatchError) => logger.warn({ code: e.code, ...e.context }, e.message);
    for (const config of [statusStreamConfig(clusterId, { replicas, maxBytes: this.options.claimStreamMaxBytes }), reportStreamConfig(clusterId, { replicas }), dlqStreamConfig(clusterId, { replicas })]) {
      await retryTransient(() => ensureStreamReplicated(bus, config, onMismatch), { what: `ensuring stream ${config.name}`, clock, logger });
    }
    this.#client = createClient({ clusterId, agentId: `service:${nodeId}`, bus, clock, logger });
    this.#client.onDownbeat((frame, info) => this.#onDownbeat(frame, info));
    await this.#client.start();
    const statusStream = clusterNames(clusterId).statusStream;
    // Everything stored before this start is either rebuilt now or belongs to bars already reported.
    const state = await retryTransient(() => bus.streamState(statusStream), { what: `reading stream ${statusStream}`, clock, logger });
    const recovery = await this.#recover(state.lastSeq, state.messages > 0 ? state.firstSeq : undefined);
    if (recovery === undefined) return; // stopped meanwhile
    const { startTime, handledUpTo } = recovery;
    // Claims up to handledUpTo were all read now, or a new durable takes only later ones; when
    // an existing durable resumes without a rebuild, the consumer delivers the rest.
    if (handledUpTo !== undefined) this.#counter.handled.advanceTo(handledUpTo);
    this.#recovered = true;
    this.#kick();
    this.#consumer = await bus.consume(
      // AckAll: claims are counted (then acked) in delivery order, and every claim is settled
      // by the handler (counted, or dead-lettered with its reason), never nak'ed.
      { stream: statusStream, durable: this.consumer, ackPolicy: 'all', ackWaitMs: 30_000, maxAckPending: 20_000, ...(startTime !== undefined ? { startTime } : { deliverPolicy: 'new' }) },
      (msg) => this.#onDelivery(msg),
    );
    this.#scheduleSweep();
    try {
      this.#presence = await startPresence(bus, clusterId, { kind: 'reverb', nodeId, host: this.options.host, clock, logger, replicas, info: () => this.#presenceInfo() });
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not announce this replica in the presence bucket');
    }
    this.#state = 'running';
    logger.info({ cluster: clusterId, node: nodeId, consumer: this.consumer, signatures: this.options.signatures, bar: this.barLength }, 'reverb started');
    if (this.options.signatures !== 'require') {
      // docs/spec.md §10 Security: said once, so an operator knows what this mode lets through.
      const how = this.options.signatures === 'off' ? 'signed or not' : 'unsigned';
      logger.warn({ signatures: this.options.signatures, trusted_agents: this.#trust?.size ?? 0 }, `claims from agents not in the trust file are accepted ${how}: any login that may publish claims can speak for them (agents in the trust file are always verified)`);
    }
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

  /**
   * Rebuilds the bars a stop lost (docs/spec.md §9 Reverb, crash safety), however many: reads
   * the claims stored since one beat before the first bar without a report, bar by bar, and
   * stores each bar's report before it reads the next one's claims, so memory holds one bar
   * and one page of claims whatever the outage; then reads the claims of the bar in progress.
   * Returns where a new durable starts (undefined: no tempo map yet, a new durable then takes
   * only new claims) and the sequence up to which every claim is handled (undefined when the
   * consumer delivers them); undefined altogether when the replica was stopped meanwhile.
   */
  async #recover(floor: number, firstSeq: number | undefined): Promise<{ startTime: number | undefined; handledUpTo: number | undefined } | undefined> {
    const { bus, clusterId, logger, catchUpBars, clock } = this.options;
    // The SDK's watch may not have delivered the map yet: read it from the state bucket (the
    // pulse owns that bucket: opened, never created here).
    this.#stateMap = this.#client!.tempoMap ?? (await bus.kv(clusterNames(clusterId).stateBucket, { create: false }).then(readTempoMap).catch(() => null))?.map ?? null;
    const map = this.tempoMap;
    const last = await bus.getStreamMsg(clusterNames(clusterId).reportStream, { lastBySubject: subjects(clusterId).reportStore }).catch(() => undefined);
    const lastReport = last && decodeStoredReport(last);
    if (lastReport) {
      this.#lastStoredReportAt = last.time;
      this.#reportedCut = claimCutOf(last.headers);
      this.#reportedUpTo = lastReport.from_beat;
      this.#dueUpTo = lastReport.from_beat;
    }
    const stream = clusterNames(clusterId).statusStream;
    const consumers = await bus.listConsumers(stream).catch(() => undefined);
    const mine = consumers?.find((c) => c.name === this.consumer);
    // Nothing to rebuild. A new durable takes only new claims; one that exists (or may: the
    // list failed) resumes where it stopped and delivers what was stored meanwhile, none of
    // it handled yet.
    const nothing = { startTime: undefined, handledUpTo: consumers !== undefined && mine === undefined ? floor : undefined };
    if (!map) return nothing;
    const oldest = firstSeq === undefined ? undefined : await bus.getStreamMsg(stream, { seq: firstSeq }).catch(() => undefined);
    const plan = planRecovery({ map, barLength: this.barLength, now: clock.now(), lastReported: lastReport?.from_beat, oldestClaimAt: oldest?.time, maxBars: catchUpBars });
    if (!plan) return nothing;
    if (plan.skippedBars > 0) logger.warn({ bars: plan.skippedBars, catch_up_bars: catchUpBars }, 'bars older than the oldest stored claim and beyond --catch-up-bars; no report for them');
    this.#reportedUpTo = plan.firstBar - this.barLength;
    this.#dueUpTo = Math.max(this.#dueUpTo, plan.currentBar - this.barLength);
    this.#rebuildFrom = plan.readFrom;
    const reader = new ClaimStreamReader(bus, stream, { fromTime: plan.readFrom }, pageLimitFor(this.options.readBytes));
    const delivered = mine?.deliveredSeq ?? 0;
    const each = (m: StoredMsg) => this.#ingestStored(m, m.seq <= delivered ? 'history' : 'live');
    // Reads every claim up to `toSeq`; a short answer (a replica behind its stream) is read again, never taken as all there is.
    // Resolves true (#untilDone takes undefined for "stopped meanwhile").
    const readTo = async (toSeq: number): Promise<true> => {
      const stopped = await reader.read(each, { toSeq });
      if (!stopped && reader.lastSeq !== undefined && reader.lastSeq < toSeq) throw new Error(`the claim stream answered up to ${reader.lastSeq} of ${toSeq}`);
      return true;
    };
    const missed = Math.max(0, (this.#dueUpTo + this.barLength - plan.firstBar) / this.barLength);
    if (missed > 0) logger.info({ from_bar: plan.firstBar, missed_bars: missed, consumer: this.consumer, resumed: mine !== undefined }, 'rebuilding missed bars from the claim stream');
    // Bar by bar, in order: the claims stored until the first beat of the next bar ended, and
    // at least REBUILD_GRACE_MS after the bar (a live replica builds a report sooner), then the report.
    for (;;) {
      if (this.#state !== 'starting') return undefined;
      const next: number = this.#reportedUpTo! + this.barLength;
      if (next > this.#dueUpTo) break;
      const m = this.tempoMap ?? map;
      const horizon = Math.max(timeOf(m, next + this.barLength + 1), timeOf(m, next + this.barLength) + REBUILD_GRACE_MS);
      if ((await this.#untilDone('reading the claim stream to rebuild a bar', () => reader.read(each, { beforeTime: horizon }))) === undefined) return undefined;
      // Every claim the last stored report accounts for is read before this bar's report names a later cut.
      const cut = this.#reportedCut ?? 0;
      if ((this.#counter.handled.upTo ?? 0) < cut && (await this.#untilDone('reading the claim stream to rebuild a bar', () => readTo(cut))) === undefined) return undefined;
      if (!(await this.#publishReport(next, false))) {
        await this.#sleep(this.options.retryMs);
        continue;
      }
      this.#reportedUpTo = next;
    }
    // The bar in progress: every claim stored so far.
    const target = await this.#untilDone(`reading stream ${stream}`, async () => (await bus.streamState(stream)).lastSeq);
    if (target === undefined || (await this.#untilDone('reading the claim stream', () => readTo(target))) === undefined) return undefined;
    logger.info({ claims: reader.count, from_bar: plan.firstBar, missed_bars: missed, up_to_seq: target }, 'rebuilt from the claim stream');
    // A new durable starts a little before the last claim read (stream times may repeat); what it delivers again is skipped by sequence.
    return { startTime: reader.lastTime !== undefined ? reader.lastTime - 1000 : plan.readFrom, handledUpTo: target };
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
    this.#pipeline.submit({ data: msg.data, headers: msg.headers, storedAt: msg.time, source: msg.redelivered ? 'redelivered' : 'live', seq: msg.seq, done: () => msg.ack() });
  }

  #ingestStored(m: StoredMsg, source: ClaimSource): void {
    this.ingest(m.data, m.headers, m.time, source, m.seq);
  }

  /**
   * Before a report is built: every claim the stream acknowledged so far is handled. The
   * consumer is given `catchUpWaitMs` to deliver them; a consumer stalled by a NATS fault (its
   * Raft group electing a leader) is overtaken by reading the stream directly (a
   * bar's report counts every claim stored before it was built). False when the stream
   * cannot be read now: the report is tried again later.
   */
  async #catchUp(w: WindowAggregation): Promise<boolean> {
    const { bus, clusterId, clock, logger, catchUpWaitMs } = this.options;
    const stream = clusterNames(clusterId).statusStream;
    try {
      // Also every claim the last stored report accounts for, and any the window counted above a gap.
      const target = Math.max((await bus.streamState(stream)).lastSeq, this.#reportedCut ?? 0, w.maxSeq);
      if (await this.#counter.handled.whenHandled(target, catchUpWaitMs)) return true;
      // Nothing handled yet (a durable resumed without a rebuild): from where a rebuild would have begun.
      const upTo = this.#counter.handled.upTo;
      const from = upTo !== undefined ? { fromSeq: upTo + 1 } : { fromTime: this.#rebuildFrom ?? clock.now() };
      const reader = new ClaimStreamReader(bus, stream, from, pageLimitFor(this.options.readBytes));
      await reader.read((m) => this.#ingestStored(m, 'live'), { toSeq: target });
      const { count, lastSeq } = reader;
      // A read that stops short (even with nothing: a replica behind its stream after a heal
      // answered it) covers nothing past what it handed over; the floor is never moved over
      // sequences that were not read.
      if (upTo === undefined ? lastSeq !== undefined && lastSeq < target : (lastSeq ?? upTo) < target) {
        logger.warn({ read_up_to_seq: lastSeq ?? null, up_to_seq: target }, 'the claim stream answered only part of what it holds; the report waits');
        return false;
      }
      this.#counter.handled.advanceTo(target);
      this.metrics.catchUpReads.inc();
      logger.info({ claims: count, up_to_seq: target }, 'the claim consumer was behind; read the claim stream directly before the report');
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not read the claim stream before the report; retrying');
      return false;
    }
  }

  /** Stops reporting, consuming and following; idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    const { clock } = this.options;
    if (this.#sweeper) clock.clearTimeout(this.#sweeper);
    if (this.#retry) clock.clearTimeout(this.#retry);
    await this.#consumer?.stop();
    await this.#pipeline.idle();
    await this.#pool?.close();
    await this.#pumping;
    await this.#presence?.stop();
    await this.#client?.stop();
    this.#state = 'stopped';
  }

  /**
   * Checks and counts one claim; a refused one goes to the dead-letter subject with the
   * reason in a header (not for `history`). Never throws. A claim is a replay only when the
   * same claim (agent and HLC, the SDK's Nats-Msg-Id) was counted from another stream
   * message; the same message again (same `seq`) is a duplicate, silently skipped.
   */
  ingest(data: Uint8Array, headers: Headers, storedAt: number, source: ClaimSource = 'live', seq = 0): IngestOutcome {
    return this.#counter.ingest(data, headers, storedAt, source, seq, undefined);
  }

  /**
   * {@link ingest}, with the signature checked on a verify thread (`verifyThreads`); claims
   * are counted in the order they were given, the outcome resolves once this one is.
   */
  ingestAsync(data: Uint8Array, headers: Headers, storedAt: number, source: ClaimSource = 'live', seq = 0): Promise<IngestOutcome> {
    return new Promise((done) => this.#pipeline.submit({ data, headers, storedAt, source, seq, done }));
  }

  #onDownbeat(frame: BeatFrame, info: BeatInfo): void {
    this.#downbeats.set(frame.beat_index, { receivedAt: info.receivedAt, scheduledAt: info.scheduledAt, source: info.source });
    for (const k of this.#downbeats.keys()) if (k < frame.beat_index - 4 * this.barLength) this.#downbeats.delete(k);
    const ended = frame.beat_index - this.barLength;
    if (ended < 0) return;
    if (ended > this.#dueUpTo) this.#dueUpTo = ended;
    this.#kick();
  }

  /** Runs the report pump unless it runs already (or recovery is not done). */
  #kick(): void {
    if (!this.#recovered || this.#pumping || this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#pumping = this.#pump().finally(() => (this.#pumping = undefined));
  }

  /** Publishes every due report in bar order; on a failed store, stops and retries later. */
  async #pump(): Promise<void> {
    while (this.#state === 'running' || this.#state === 'starting') {
      if (this.#dueUpTo < 0) return;
      // The first bar due is the first this replica answers for; from then on, every bar in order.
      this.#reportedUpTo ??= this.#dueUpTo - this.barLength;
      const next = this.#reportedUpTo + this.barLength;
      if (next > this.#dueUpTo) return;
      if (!(await this.#publishReport(next))) {
        const { clock, retryMs } = this.options;
        if (this.#retry) clock.clearTimeout(this.#retry);
        this.#retry = clock.setTimeout(() => this.#kick(), retryMs);
        return;
      }
      this.#reportedUpTo = next;
    }
  }

  /**
   * Builds, stores (de-duplicated by window id) and publishes the report of bar `fromBeat`;
   * with `catchUp`, after making sure every claim stored so far is handled (the rebuild at
   * start has read the bar's claims itself). False when the store failed: the window stays
   * open and the report is built again later.
   */
  async #publishReport(fromBeat: number, catchUp = true): Promise<boolean> {
    const { bus, clusterId, clock, logger } = this.options;
    const w = this.#windows.get(fromBeat, clock.now());
    if (w.reportedAt !== undefined) return true;
    if (catchUp && !(await this.#catchUp(w))) return false;
    // The claim cut (docs/spec.md §9 Reverb): every message up to it is handled, none above it is in this window.
    const cut = Math.max(this.#counter.handled.upTo ?? 0, this.#reportedCut ?? 0);
    if (w.maxSeq > cut) {
      logger.warn({ window: w.windowId, cut, max_seq: w.maxSeq }, 'claims above a gap in the handled sequences; the report waits');
      return false;
    }
    const built = clock.now();
    const { due, tempoDriftMs, builtLate } = reportTiming({ map: this.tempoMap, fromBeat, barLength: this.barLength, opening: this.#downbeats.get(fromBeat), closing: this.#downbeats.get(fromBeat + this.barLength), now: built });
    const report = w.report(clusterId, { tempoDriftMs, rollupMs: Math.max(0, built - due), barLength: this.barLength, generatedAt: clock.wallNow(), hlc: this.hlc.nowString(), builtLate });
    // No claim is counted from the build to the seal: each is counted against the report stored.
    const release = this.#pipeline.hold();
    let published: BarReport;
    try {
      const stored = await storeReport(bus, clusterId, report, cut, logger);
      if (stored === 'failed') {
        this.metrics.reportFailures.inc();
        return false;
      }
      if (stored.stored) {
        published = report;
        this.#reportedCut = cut;
      } else {
        const adopted = await this.#adoptStored(w, stored.seq, cut);
        if (adopted === undefined) return false;
        published = adopted;
      }
      w.seal(published, clock.now());
      this.#reportedUpTo = fromBeat;
      if (stored.stored) this.metrics.reports.inc();
    } finally {
      release();
    }
    const publishedMs = Math.max(0, clock.now() - due); // closing downbeat to report published
    this.metrics.rollup.observe(publishedMs / 1000);
    this.metrics.agentsReporting.set(published.agents_reporting);
    this.#lastReport = published;
    this.#lastReportAt = clock.wallNow();
    for (const l of this.#reportListeners) l(published, { publishedMs });
    logger.debug({ claims: published.performance?.claims_processed, late: published.late_claims, cut: this.#reportedCut, upTo: this.#counter.handled.upTo, window: report.window_id, from_beat: fromBeat, agents: published.agents_reporting, duplicate: published !== report, built_late: builtLate, rollup_ms: Math.round(publishedMs * 1000) / 1000 }, 'bar report');
    this.#windows.evict(clock.now());
    return true;
  }

  /**
   * Another replica stored the report of `w`'s bar first (report stream sequence `seq`): that
   * copy is the bar's report. What this replica counted in `w` above that copy's claim cut is
   * not in it, so it goes to the next bar as late (claims) or as the same refusal
   * (docs/spec.md §9 Reverb: each claim counted once, whichever replica stored each report).
   * Returns the stored report, or undefined when it cannot be read now (the report is tried again).
   */
  async #adoptStored(w: WindowAggregation, seq: number, ownCut: number): Promise<BarReport | undefined> {
    const { bus, clusterId, clock, logger } = this.options;
    let m: StoredMsg | undefined;
    try {
      m = await bus.getStreamMsg(clusterNames(clusterId).reportStream, { seq });
    } catch (err) {
      logger.warn({ err: (err as Error).message, window: w.windowId, seq }, 'could not read the stored copy of the bar report; retrying');
      return undefined;
    }
    const stored = m && decodeStoredReport(m);
    const storedCut = m && claimCutOf(m.headers);
    if (!stored || stored.window_id !== w.windowId || storedCut === undefined) {
      // A copy without a cut (an older replica) or not this bar's: counted as built here.
      logger.warn({ window: w.windowId, seq, found: stored?.window_id ?? null }, 'the stored copy of the bar report names no claim cut; counting as this replica built it');
      this.#reportedCut = ownCut;
      return stored?.window_id === w.windowId ? stored : undefined;
    }
    const moved = w.countedAfter(storedCut);
    if (moved.length > 0) {
      const next = this.#windows.get(w.fromBeat + this.barLength, clock.now());
      for (const x of moved) next.issue(x.kind === 'claim' ? 'late_claims' : x.kind, clock.now(), x.seq);
      logger.info({ window: w.windowId, stored_cut: storedCut, own_cut: ownCut, moved: moved.length }, "another replica's report of this bar was stored first; what it does not count goes to the next bar");
    }
    this.#reportedCut = storedCut;
    return stored;
  }

  #scheduleSweep(): void {
    this.#sweeper = this.options.clock.setTimeout(() => {
      this.#windows.evict(this.options.clock.now());
      this.#kick();
      if (this.#state === 'running') this.#scheduleSweep();
    }, 5000);
  }

  /** Windows held, newest first. */
  windows(): WindowAggregation[] {
    return this.#windows.list();
  }

  /** The window with this id, when held. */
  window(id: string): WindowAggregation | undefined {
    return this.#windows.find(id);
  }

  /** The last report this replica stored (or found stored by another replica). */
  get lastReport(): BarReport | undefined {
    return this.#lastReport;
  }

  /** Calls `cb` for every (beat, phase) reverb follows (the SDK's onPhase). Call after start(). */
  onPhase(cb: BeatCallback): () => void {
    return this.#client!.onPhase(cb);
  }

  /**
   * Calls `l` with every report this replica publishes, and the time from the downbeat frame
   * to its publication; returns the unsubscribe.
   */
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
