/**
 * The I/O of reporting a bar (docs/spec.md §9 Reverb): before a report, make sure every claim
 * the claim stream holds is handled (the consumer gets `catchUpWaitMs`, then the stream is read
 * directly), then ask the ledger to build it, store it, and tell the ledger what the store
 * answered (read back another replica's copy when one was stored first). The pump reports
 * every due bar in order and retries a failed one after `retryMs`. Thin: every decision is the
 * ledger's (ledger/).
 */
import { REPORT_NODE_HEADER } from '@backbeat/contracts';
import type { Hlc } from '@backbeat/core';
import { clusterNames, type Bus, type StoredMsg } from '@backbeat/transport';
import { ClaimStreamReader, pageLimitFor } from './claim-stream.js';
import { decodeStoredReport } from './history.js';
import type { LedgerEffect, LedgerEvent } from './ledger/events.js';
import { catchUpTarget, nextDue, type LedgerState } from './ledger/state.js';
import type { ReverbMetrics } from './metrics.js';
import type { ResolvedReverbOptions } from './options.js';
import { claimCutOf, storeReport } from './publish.js';

/** What the pump needs of its replica. */
export interface ReportPumpHost {
  readonly options: ResolvedReverbOptions & { readonly bus: Bus };
  readonly metrics: ReverbMetrics;
  readonly hlc: Hlc;
  readonly ledger: LedgerState;
  /** Steps the ledger with `e` and carries out the effects; returns them. */
  apply(e: LedgerEvent): LedgerEffect[];
  /** Hands a message read from the claim stream to the ledger. */
  ingestStored(m: StoredMsg): void;
  /** Resolves true once every sequence up to `target` is handled, false after `timeoutMs`. */
  whenHandled(target: number, timeoutMs: number): Promise<boolean>;
  /** True while the replica starts or runs. */
  active(): boolean;
  /** Where the start-up re-read of the claim stream began (ms since the epoch), if it did. */
  rebuildFrom(): number | undefined;
}

/** Reports due bars, in order, one at a time. */
export class ReportPump {
  readonly #h: ReportPumpHost;
  #running: Promise<void> | undefined;
  #retry: ReturnType<ResolvedReverbOptions['clock']['setTimeout']> | undefined;

  constructor(host: ReportPumpHost) {
    this.#h = host;
  }

  /** Runs the pump unless it runs already. */
  kick(): void {
    if (!this.#h.ledger.recovered || this.#running || !this.#h.active()) return;
    this.#running = this.#pump().finally(() => (this.#running = undefined));
  }

  /** Stops retrying; resolves once the pump is idle. */
  async stop(): Promise<void> {
    if (this.#retry) this.#h.options.clock.clearTimeout(this.#retry);
    await this.#running;
  }

  async #pump(): Promise<void> {
    while (this.#h.active()) {
      const next = nextDue(this.#h.ledger);
      if (next === undefined) return;
      if (!(await this.publish(next))) {
        const { clock, retryMs } = this.#h.options;
        if (this.#retry) clock.clearTimeout(this.#retry);
        this.#retry = clock.setTimeout(() => this.kick(), retryMs);
        return;
      }
    }
  }

  /**
   * Reports bar `fromBeat`: with `catchUp`, after making sure every claim stored so far is
   * handled (the rebuild at start has read the bar's claims itself). False when it could not
   * be reported now: the window stays open and the report is built again later.
   */
  async publish(fromBeat: number, catchUp = true): Promise<boolean> {
    const { bus, clusterId, clock, logger, nodeId } = this.#h.options;
    if (catchUp && !(await this.#catchUp(fromBeat))) return false;
    const built = this.#h.apply({ type: 'build', fromBeat, wall: clock.wallNow(), hlc: this.#h.hlc.nowString() });
    if (built.some((x) => x.type === 'report-known')) return true;
    const store = built.find((x) => x.type === 'store-report');
    if (store === undefined) return false; // waits for claims above a gap
    const stored = await storeReport(bus, clusterId, store.report, { cut: store.cut, nodeId }, logger);
    if (stored === 'failed') return done(this.#h.apply({ type: 'store-failed', why: 'store' }));
    if (stored.stored) return done(this.#h.apply({ type: 'stored' }));
    let m: StoredMsg | undefined;
    try {
      m = await bus.getStreamMsg(clusterNames(clusterId).reportStream, { seq: stored.seq });
    } catch (err) {
      logger.warn(
        { err: (err as Error).message, window: store.report.window_id, seq: stored.seq },
        'could not read the stored copy of the bar report; retrying',
      );
      return done(this.#h.apply({ type: 'store-failed', why: 'read' }));
    }
    const found = {
      report: m && decodeStoredReport(m),
      cut: m && claimCutOf(m.headers),
      storedBy: m?.headers[REPORT_NODE_HEADER],
    };
    return done(this.#h.apply({ type: 'found-stored', ...found }));
  }

  /**
   * Before a report is built: every claim the stream acknowledged so far is handled. The
   * consumer is given `catchUpWaitMs` to deliver them; a consumer stalled by a NATS fault (its
   * Raft group electing a leader) is overtaken by reading the stream directly. False when the
   * stream cannot be read now (or answered only part of it): the report is tried again later.
   */
  async #catchUp(fromBeat: number): Promise<boolean> {
    const { bus, clusterId, clock, logger, catchUpWaitMs, readBytes } = this.#h.options;
    const { ledger } = this.#h;
    const stream = clusterNames(clusterId).statusStream;
    try {
      const target = catchUpTarget(ledger, fromBeat, (await bus.streamState(stream)).lastSeq);
      if (await this.#h.whenHandled(target, catchUpWaitMs)) return true;
      // Nothing handled yet (a durable resumed without a rebuild): from where a rebuild would have begun.
      const upTo = ledger.handled.upTo;
      const from = upTo !== undefined ? { fromSeq: upTo + 1 } : { fromTime: this.#h.rebuildFrom() ?? clock.now() };
      const reader = new ClaimStreamReader(bus, stream, from, pageLimitFor(readBytes));
      await reader.read((m) => this.#h.ingestStored(m), { toSeq: target });
      const { count, lastSeq } = reader;
      // A read that stops short (even with nothing: a replica behind its stream after a heal
      // answered it) covers nothing past what it handed over; the floor is never moved over
      // sequences that were not read.
      if (upTo === undefined ? lastSeq !== undefined && lastSeq < target : (lastSeq ?? upTo) < target) {
        logger.warn(
          { read_up_to_seq: lastSeq ?? null, up_to_seq: target },
          'the claim stream answered only part of what it holds; the report waits',
        );
        return false;
      }
      this.#h.apply({ type: 'read-through', seq: target });
      this.#h.metrics.catchUpReads.inc();
      logger.info(
        { claims: count, up_to_seq: target },
        'the claim consumer was behind; read the claim stream directly before the report',
      );
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not read the claim stream before the report; retrying');
      return false;
    }
  }
}

/** True when the store's answer made the bar's report the record. */
function done(effects: LedgerEffect[]): boolean {
  return effects.some((x) => x.type === 'report-done');
}
