/**
 * The reverb service (BACKBEAT-REQ-020..022): ingests StatusClaims from a durable JetStream
 * consumer, checks each, aggregates per window, and at each downbeat publishes the BarReport
 * of the bar that ended (an empty bar included), stored de-duplicated by window id.
 */
import { Hlc, timeOf, windowId, windowIdForBeat, type TempoMap } from '@backbeat/core';
import type { BarReport, BeatFrame } from '@backbeat/contracts';
import { createClient, type BeatCallback, type BeatInfo, type Client } from '@backbeat/sdk';
import { MSG_ID_HEADER, reportStreamConfig, statusStreamConfig, subjects, type Consumer, type Headers } from '@backbeat/transport';
import { checkClaim } from './ingest.js';
import { createReverbMetrics, type ReverbMetrics } from './metrics.js';
import { resolveReverbOptions, type ResolvedReverbOptions, type ReverbOptions } from './options.js';
import type { TrustStore } from './trust.js';
import { WindowAggregation, type IssueKind } from './window.js';

/** Lifecycle of the service. */
export type ReverbState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

const enc = new TextEncoder();

/** One reverb replica. */
export class Reverb {
  readonly options: ResolvedReverbOptions & { readonly bus: ReverbOptions['bus'] };
  readonly metrics: ReverbMetrics;
  readonly hlc: Hlc;
  readonly startedAt: number;
  #state: ReverbState = 'created';
  #trust: TrustStore | undefined;
  #client!: Client;
  #consumer: Consumer | undefined;
  #windows = new Map<string, WindowAggregation>();
  #downbeats = new Map<number, { receivedAt: number; scheduledAt: number; source: BeatInfo['source'] }>();
  #sweeper: NodeJS.Timeout | undefined;
  #lastReport: BarReport | undefined;
  #reportListeners = new Set<(r: BarReport, timing: { publishedMs: number }) => void>();
  #claimListeners = new Set<(windowId: string) => void>();

  constructor(options: ReverbOptions) {
    this.options = Object.freeze({ ...resolveReverbOptions(options), bus: options.bus });
    this.metrics = createReverbMetrics(this.options.registry);
    this.hlc = new Hlc(this.options.nodeId, { clock: this.options.clock });
    this.#trust = this.options.trust;
    this.startedAt = this.options.clock.wallNow();
  }

  get state(): ReverbState {
    return this.#state;
  }

  /** Replaces the trust store (a reloaded trust file). */
  setTrust(trust: TrustStore): void {
    this.#trust = trust;
  }

  /** Beats per bar: the option, else the pulse's tempo map, else 8 until one is known. */
  get barLength(): number {
    return this.options.barLength ?? this.#client?.tempoMap?.barLength ?? 8;
  }

  /** Current beat as followed (-1 before the first). */
  get currentBeat(): number {
    return this.#client?.currentBeat ?? -1;
  }

  get tempoMap(): TempoMap | null {
    return this.#client?.tempoMap ?? null;
  }

  /** Starts following the beat, replays the recent claims and starts the durable consumer. */
  async start(): Promise<void> {
    if (this.#state !== 'created') return;
    this.#state = 'starting';
    const { bus, clusterId, nodeId, logger, clock } = this.options;
    await bus.ensureStream(statusStreamConfig(clusterId));
    await bus.ensureStream(reportStreamConfig(clusterId));
    this.#client = createClient({ clusterId, agentId: `service:${nodeId}`, bus, clock, logger });
    this.#client.onDownbeat((frame, info) => this.#onDownbeat(frame, info));
    await this.#client.start();
    await this.#replayRecent();
    this.#consumer = await bus.consume(
      { stream: statusStreamConfig(clusterId).name, durable: `reverb_${nodeId}`, ackWaitMs: 30_000, maxAckPending: 20_000 },
      (msg) => {
        this.ingest(msg.data, msg.headers, msg.time, msg.redelivered ? 'redelivered' : 'live');
        msg.ack();
      },
    );
    this.#sweeper = setInterval(() => this.#evict(), 5000);
    this.#sweeper.unref();
    this.#state = 'running';
    logger.info({ cluster: clusterId, node: nodeId, signatures: this.options.signatures, bar: this.barLength }, 'reverb started');
  }

  /**
   * Re-reads the claims of the current and previous bar from the stream, so a restart
   * mid-bar loses none that were acknowledged before it (duplicates are ignored).
   */
  async #replayRecent(): Promise<void> {
    const map = this.#client.tempoMap;
    const now = this.options.clock.now();
    const barMs = map ? timeOf(map, this.barLength, 0) - timeOf(map, 0, 0) : 60_000;
    try {
      const msgs = await this.options.bus.readStream({ stream: statusStreamConfig(this.options.clusterId).name, fromTime: now - 2 * barMs, limit: 500_000 });
      for (const m of msgs) this.ingest(m.data, m.headers, m.time, 'history');
      if (msgs.length > 0) this.options.logger.info({ claims: msgs.length }, 'replayed recent claims from the stream');
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'could not replay recent claims');
    }
  }

  /** Stops consuming and following; idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#state = 'stopping';
    if (this.#sweeper) clearInterval(this.#sweeper);
    await this.#consumer?.stop();
    await this.#client?.stop();
    this.#state = 'stopped';
  }

  #window(fromBeat: number): WindowAggregation {
    const id = windowId(this.options.clusterId, fromBeat);
    let w = this.#windows.get(id);
    if (!w) {
      w = new WindowAggregation(id, fromBeat, this.barLength, this.options.clock.now());
      this.#windows.set(id, w);
      this.metrics.activeWindows.set(this.#windows.size);
    }
    return w;
  }

  #currentWindow(): WindowAggregation {
    const beat = Math.max(0, this.currentBeat);
    return this.#window(beat - (beat % this.barLength));
  }

  /**
   * Checks and counts one claim; a refused one goes to the dead-letter subject with the
   * reason in a header. Never throws. `source`: a live delivery, a redelivery (after a
   * restart: already counted claims are skipped silently), or history re-read at start.
   */
  ingest(data: Uint8Array, headers: Headers, storedAt: number, source: 'live' | 'redelivered' | 'history' = 'live'): 'accepted' | IssueKind | 'duplicate' {
    const now = this.options.clock.now();
    const replay = source === 'history';
    const v = checkClaim(data, headers, {
      mode: this.options.signatures,
      trust: this.#trust,
      maxBytes: this.options.maxClaimBytes,
      currentBeat: replay ? -1 : this.currentBeat,
      replayBeats: this.options.replayBars * this.barLength,
    });
    if (!v.accept) {
      // Counted in the current bar: a refused claim's own beat is not to be trusted.
      this.#currentWindow().issue(v.reason, now);
      this.metrics.claims.inc({ outcome: 'rejected' });
      this.metrics.rejected.inc({ reason: v.reason });
      if (!replay) this.#deadLetter(data, headers, v.reason, v.message);
      return v.reason;
    }
    const c = v.claim;
    const fromBeat = c.beat_index - (c.beat_index % this.barLength);
    const header = headers['x-window-id'];
    const wid = header === windowIdForBeat(this.options.clusterId, c.beat_index, this.barLength) ? header : windowId(this.options.clusterId, fromBeat);
    const w = this.#windows.get(wid) ?? this.#window(fromBeat);
    if (w.reportedAt !== undefined) {
      this.#currentWindow().issue('late_claims', now);
      this.metrics.claims.inc({ outcome: 'late' });
      return 'late_claims';
    }
    if (w.seen(c.agent_id, c.hlc)) {
      if (source !== 'live') return 'duplicate'; // the same stored claim again: already counted
      // A new message repeating a counted claim: a replay (SPEC 10).
      w.issue('replayed', now);
      this.metrics.claims.inc({ outcome: 'rejected' });
      this.metrics.rejected.inc({ reason: 'replayed' });
      this.#deadLetter(data, headers, 'replayed', `claim ${c.agent_id} ${c.hlc} was already counted`);
      return 'replayed';
    }
    const map = this.#client?.tempoMap;
    const onTime = map ? storedAt < timeOf(map, c.beat_index + 1, 0) : false;
    w.add(c, onTime, now);
    if (v.unsignedAccepted) w.issue('unsigned_accepted', now);
    this.metrics.claims.inc({ outcome: 'accepted' });
    for (const l of this.#claimListeners) l(wid);
    return 'accepted';
  }

  #deadLetter(data: Uint8Array, headers: Headers, reason: string, message: string): void {
    const h: Record<string, string> = { 'x-reason': reason, 'x-error': message.replace(/[\r\n]+/g, ' ').slice(0, 512) };
    for (const k of ['x-agent-id', 'x-window-id', 'x-hlc']) if (headers[k] !== undefined) h[k] = headers[k]!;
    try {
      this.options.bus.publish(subjects(this.options.clusterId).dlq, data.length > 65_536 ? data.subarray(0, 65_536) : data, { headers: h });
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'could not publish to the dead-letter subject');
    }
  }

  #onDownbeat(frame: BeatFrame, info: BeatInfo): void {
    this.#downbeats.set(frame.beat_index, { receivedAt: info.receivedAt, scheduledAt: info.scheduledAt, source: info.source });
    for (const k of this.#downbeats.keys()) if (k < frame.beat_index - 4 * this.barLength) this.#downbeats.delete(k);
    const ended = frame.beat_index - this.barLength;
    if (ended < 0) return;
    void this.#publishReport(ended, info.receivedAt);
  }

  /** Builds, stores (de-duplicated by window id) and publishes the report of bar `fromBeat`. */
  async #publishReport(fromBeat: number, downbeatAt: number): Promise<void> {
    const { bus, clusterId, clock, logger } = this.options;
    const w = this.#window(fromBeat);
    if (w.reportedAt !== undefined) return;
    const a = this.#downbeats.get(fromBeat);
    const b = this.#downbeats.get(fromBeat + this.barLength);
    const drift = a && b && a.source === 'leader' && b.source === 'leader' ? b.receivedAt - a.receivedAt - (b.scheduledAt - a.scheduledAt) : 0;
    const report = w.report(clusterId, { tempoDriftMs: drift, rollupMs: 0, barLength: this.barLength, generatedAt: clock.wallNow(), hlc: this.hlc.nowString() });
    const built = clock.now();
    report.performance!.rollup_ms = Math.round((built - downbeatAt) * 1000) / 1000; // downbeat frame to report built
    w.seal(report, built);
    const data = enc.encode(JSON.stringify(report));
    try {
      const ack = await bus.publishDurable(subjects(clusterId).reportStore, data, { msgId: report.window_id });
      if (!ack.duplicate) {
        bus.publish(subjects(clusterId).reverb, data, { headers: { [MSG_ID_HEADER]: report.window_id } });
        this.metrics.reports.inc();
      }
      const rollupMs = clock.now() - downbeatAt; // downbeat frame to report published
      this.metrics.rollup.observe(rollupMs / 1000);
      this.metrics.agentsReporting.set(report.agents_reporting);
      this.#lastReport = report;
      for (const l of this.#reportListeners) l(report, { publishedMs: rollupMs });
      logger.info({ window: report.window_id, from_beat: fromBeat, agents: report.agents_reporting, duplicate: ack.duplicate, rollup_ms: Math.round(rollupMs * 1000) / 1000 }, 'bar report');
    } catch (err) {
      logger.warn({ err: (err as Error).message, window: report.window_id }, 'could not publish the bar report');
    }
    this.#evict();
  }

  /** Drops reported windows past their TTL, then the oldest beyond maxWindows. */
  #evict(): void {
    const now = this.options.clock.now();
    for (const [id, w] of this.#windows) if (w.reportedAt !== undefined && now - w.lastUpdated > this.options.windowTtlMs) this.#windows.delete(id);
    if (this.#windows.size > this.options.maxWindows) {
      const oldest = [...this.#windows.values()].sort((x, y) => x.fromBeat - y.fromBeat);
      for (const w of oldest.slice(0, this.#windows.size - this.options.maxWindows)) this.#windows.delete(w.windowId);
    }
    this.metrics.activeWindows.set(this.#windows.size);
  }

  /** Windows held, newest first. */
  windows(): WindowAggregation[] {
    return [...this.#windows.values()].sort((x, y) => y.fromBeat - x.fromBeat);
  }

  window(id: string): WindowAggregation | undefined {
    return this.#windows.get(id);
  }

  get lastReport(): BarReport | undefined {
    return this.#lastReport;
  }

  /** Calls `cb` for every (beat, phase) reverb follows (the SDK's onPhase). */
  onPhase(cb: BeatCallback): () => void {
    return this.#client.onPhase(cb);
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

  /** Reports from the stream, oldest first: from a beat, at most `limit`. */
  async history(fromBeat: number | undefined, limit: number): Promise<BarReport[]> {
    const stream = reportStreamConfig(this.options.clusterId).name;
    const msgs = await this.options.bus.readStream({ stream, last: fromBeat === undefined, limit: fromBeat === undefined ? limit : 100_000 });
    const reports = msgs.map((m) => JSON.parse(new TextDecoder().decode(m.data)) as BarReport);
    return fromBeat === undefined ? reports : reports.filter((r) => r.from_beat >= fromBeat).slice(0, limit);
  }

  /** Ready: running and connected. */
  isReady(): boolean {
    return this.#state === 'running' && this.options.bus.status().connected;
  }
}
