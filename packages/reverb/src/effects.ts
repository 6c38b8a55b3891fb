/**
 * Carries out what the bar ledger decided (ledger/events.ts LedgerEffect): a claim's outcome
 * to whoever waits for it (the consumer's ack), the dead-letter subject, metrics, the HLC
 * merge, listeners and logs (docs/spec.md §9 Reverb). A stored report is broadcast by the
 * server (the report stream's republish); only on an old report stream that the server cannot
 * give a republish does the replica whose copy is the record broadcast it. Holds no decision
 * of its own.
 */
import type { BarReport } from '@backbeat/contracts';
import type { Hlc } from '@backbeat/core';
import type { Bus } from '@backbeat/transport';
import type { IngestOutcome, LedgerEffect } from './ledger/events.js';
import type { LedgerState } from './ledger/state.js';
import type { ReverbMetrics } from './metrics.js';
import type { ResolvedReverbOptions } from './options.js';
import { broadcastReport, deadLetter } from './publish.js';

/** A report listener: the report and the time from its closing downbeat to its publication. */
export type ReportListener = (r: BarReport, timing: { publishedMs: number }) => void;

/** The effect runner of one replica. */
export class LedgerEffects {
  readonly #o: ResolvedReverbOptions & { readonly bus: Bus };
  readonly #metrics: ReverbMetrics;
  readonly #hlc: Hlc;
  readonly #ledger: LedgerState;
  /** Claims stepped and not answered yet (held while a report is stored), by event id. */
  readonly #answers = new Map<number, (outcome: IngestOutcome) => void>();
  #nextId = 1;
  readonly reportListeners = new Set<ReportListener>();
  readonly claimListeners = new Set<(windowId: string) => void>();
  /**
   * True only when the report stream has no republish (made before it, on nats-server 2.9):
   * then this replica broadcasts the reports whose stored copy is its own.
   */
  broadcastsOwnCopies = false;
  /** The last report this replica stored or adopted, and when. */
  lastReport: BarReport | undefined;
  lastReportAt: number | undefined;

  constructor(o: ResolvedReverbOptions & { readonly bus: Bus }, metrics: ReverbMetrics, hlc: Hlc, ledger: LedgerState) {
    this.#o = o;
    this.#metrics = metrics;
    this.#hlc = hlc;
    this.#ledger = ledger;
  }

  /** What the presence entry says of this replica: its HTTP address, consumer and last report. */
  presenceInfo(http: string | undefined, consumer: string): Record<string, unknown> {
    return {
      http: http ?? null,
      consumer,
      last_report_window: this.lastReport?.window_id ?? null,
      last_report_from_beat: this.lastReport?.from_beat ?? null,
      last_report_at: this.lastReportAt === undefined ? null : new Date(this.lastReportAt).toISOString(),
    };
  }

  /** A new claim event id whose outcome goes to `answer`. */
  expect(answer: (outcome: IngestOutcome) => void): number {
    const id = this.#nextId++;
    this.#answers.set(id, answer);
    return id;
  }

  /** Carries out `effects` in order. */
  run(effects: readonly LedgerEffect[]): void {
    for (const fx of effects) this.#one(fx);
    this.#metrics.activeWindows.set(this.#ledger.windows.size);
  }

  #one(fx: LedgerEffect): void {
    const { bus, clusterId, logger } = this.#o;
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
        this.#metrics.claims.inc({ outcome: fx.outcome });
        if (fx.reason !== undefined && fx.outcome === 'rejected') this.#metrics.rejected.inc({ reason: fx.reason });
        break;
      case 'claim-accepted':
        for (const l of this.claimListeners) {
          try {
            l(fx.windowId);
          } catch (err) {
            logger.error({ err: (err as Error).message }, 'a claim listener failed');
          }
        }
        break;
      case 'merge-hlc':
        this.#hlc.update(fx.hlc);
        break;
      case 'report-waits': {
        const fields = { window: this.#ledger.windows.id(fx.fromBeat), cut: fx.cut, max_seq: fx.maxSeq };
        logger.warn(fields, 'claims above a gap in the handled sequences; the report waits');
        break;
      }
      case 'report-done':
        this.#reported(fx);
        break;
      case 'report-failed':
        if (fx.why === 'store') this.#metrics.reportFailures.inc();
        break;
      case 'log':
        logger[fx.level](fx.fields, fx.msg);
        break;
      case 'store-report':
      case 'report-known':
        break;
    }
  }

  /** A bar's report is the record: counted when the stored copy is this replica's, the listeners told. */
  #reported(fx: Extract<LedgerEffect, { type: 'report-done' }>): void {
    const { bus, clusterId, clock, logger } = this.#o;
    const published = fx.report;
    if (fx.ownCopy) {
      if (this.broadcastsOwnCopies) broadcastReport(bus, clusterId, published, logger);
      this.#metrics.reports.inc();
    }
    const publishedMs = Math.max(0, clock.now() - fx.due); // closing downbeat to report published
    this.#metrics.rollup.observe(publishedMs / 1000);
    this.#metrics.agentsReporting.set(published.agents_reporting);
    this.lastReport = published;
    this.lastReportAt = clock.wallNow();
    for (const l of this.reportListeners) l(published, { publishedMs });
    const claims = published.performance?.claims_processed;
    const rollup = Math.round(publishedMs * 1000) / 1000;
    const fields = {
      claims,
      late: published.late_claims,
      cut: fx.cut,
      window: published.window_id,
      from_beat: fx.fromBeat,
    };
    logger.debug({ ...fields, duplicate: !fx.builtHere, moved: fx.moved, rollup_ms: rollup }, 'bar report');
  }
}
