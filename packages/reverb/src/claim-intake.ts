/**
 * How a delivered claim reaches the ledger (docs/spec.md §9 Reverb, §10 Security): in delivery
 * order through the ordered queue (claim-pipeline.ts), its signature checked on a verify thread
 * when one must be checked, then counted by the ledger, whose outcome acknowledges it. A message
 * already handled (by its stream sequence) skips the thread.
 */
import { AGENT_ID_HEADER, SIGNATURE_HEADER } from '@backbeat/contracts';
import type { Headers } from '@backbeat/transport';
import { ClaimPipeline } from './claim-pipeline.js';
import type { ClaimSource, IngestOutcome } from './ledger/events.js';
import type { HandledSeqs } from './ledger/handled-seqs.js';
import type { ResolvedReverbOptions } from './options.js';
import type { SignatureCheck, TrustStore } from './trust.js';
import { VerifyPool } from './verify-pool.js';

/** A claim between delivery and counting. */
export interface DeliveredClaim {
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly storedAt: number;
  readonly source: ClaimSource;
  readonly seq: number;
  /** Called with the outcome once counted (the consumer's ack). */
  readonly done: (outcome: IngestOutcome) => void;
}

/** What the intake needs of its replica. */
export interface ClaimIntakeHost {
  readonly options: Pick<ResolvedReverbOptions, 'verifyThreads' | 'signatures' | 'maxClaimBytes' | 'logger'>;
  readonly handled: HandledSeqs;
  /** Hands the claim, with its thread's check when it had one, to the ledger. */
  count(c: DeliveredClaim, signature: SignatureCheck | undefined): void;
}

/** The ordered intake of one replica. */
export class ClaimIntake {
  readonly #h: ClaimIntakeHost;
  #trust: TrustStore | undefined;
  /** Started at the first signed claim to check on a thread. */
  #pool: VerifyPool | undefined;
  readonly #pipeline: ClaimPipeline<DeliveredClaim>;

  constructor(host: ClaimIntakeHost, trust: TrustStore | undefined) {
    this.#h = host;
    this.#trust = trust;
    this.#pipeline = new ClaimPipeline<DeliveredClaim>({
      toCheck: (c) => (c.seq > 0 && host.handled.has(c.seq) ? undefined : this.#threadCheck(c.headers, c.data)),
      check: (agent, payload, signature) => this.#verifyPool().check(agent, payload, signature),
      apply: (c, check) => host.count(c, check),
      onError: (err) => host.options.logger.error({ err: (err as Error).message }, 'a claim listener failed'),
    });
  }

  /** Takes a delivered claim; it is counted now or once the checks before it and its own are done. */
  submit(c: DeliveredClaim): void {
    this.#pipeline.submit(c);
  }

  /** Replaces the trust store (a reloaded trust file). */
  setTrust(trust: TrustStore): void {
    this.#trust = trust;
    this.#pool?.setTrust(trust);
  }

  /** Resolves once every claim submitted so far is counted, then stops the verify threads. */
  async close(): Promise<void> {
    await this.#pipeline.idle();
    await this.#pool?.close();
  }

  /** The signature check a verify thread makes for this claim; undefined when it is checked here or needs none. */
  #threadCheck(
    headers: Headers,
    data: Uint8Array,
  ): { agent: string; payload: Uint8Array; signature: string } | undefined {
    const { verifyThreads, signatures, maxClaimBytes } = this.#h.options;
    const agent = headers[AGENT_ID_HEADER];
    const signature = headers[SIGNATURE_HEADER];
    if (verifyThreads === 0 || !this.#trust || !agent || !signature) return undefined;
    if (signatures === 'off' && !this.#trust.knows(agent)) return undefined; // ignored: not listed
    if (data.length > maxClaimBytes) return undefined; // refused before any check
    return { agent, payload: data, signature };
  }

  #verifyPool(): VerifyPool {
    this.#pool ??= new VerifyPool(this.#h.options.verifyThreads, this.#trust!);
    return this.#pool;
  }
}
