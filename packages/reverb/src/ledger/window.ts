/**
 * One bar's aggregation (BACKBEAT-REQ-020, REQ-021): the accepted claims of a window and the
 * KPIs of its BarReport. Pure: the service feeds it claims and asks for the report.
 */
import { CLAIM_STATES, type BarReport, type ClaimState, type StatusClaim } from '@backbeat/contracts';
import { AgentInBar, BLOCKED, FAILED, FULFILLED, HELPED, ON_TIME_REVIEW } from './agent-in-bar.js';
import { compareHlcText } from './hlc-text.js';
import { ISSUE_KINDS, type IssueKind, issueText, NOT_REJECTED, ROTATION_PROBLEMS } from './issue-kinds.js';

/** Claims of one bar. */
export class WindowAggregation {
  readonly windowId: string;
  readonly fromBeat: number;
  readonly toBeat: number;
  readonly createdAt: number;
  lastUpdated: number;
  /** Set when the bar's report went out. */
  reportedAt: number | undefined;
  claims = 0;
  rejected = 0;
  readonly #agents = new Map<string, AgentInBar>();
  readonly #stateCounts = new Map<ClaimState, number>();
  readonly #issues = new Map<IssueKind, number>();
  #rotationProblem = false;
  /** Claims that arrived during this bar for bars already reported (corrections). */
  lateClaims = 0;
  /**
   * What each claim-stream message counted here became (an accepted claim, a late claim, a
   * refusal), by sequence, in parallel arrays: what {@link countedAfter} hands on when the
   * stored report of this bar accounts only up to an earlier sequence. Flags (unsigned_accepted,
   * hlc_ahead) ride on their claim and are not listed. Messages without a sequence are not listed.
   */
  readonly #seqs: number[] = [];
  readonly #kinds: Array<IssueKind | 'claim'> = [];
  /** The highest claim-stream sequence counted here (0: none). */
  maxSeq = 0;

  constructor(windowId: string, fromBeat: number, barLength: number, now: number) {
    this.windowId = windowId;
    this.fromBeat = fromBeat;
    this.toBeat = fromBeat + barLength - 1;
    this.createdAt = now;
    this.lastUpdated = now;
  }

  /** Distinct agents with an accepted claim. */
  get agents(): number {
    return this.#sealedAgents ?? this.#agents.size;
  }

  /**
   * The stream sequence this (agent, hlc) was counted with (0 when it came without one), or
   * undefined when not counted. The same sequence again is a redelivery; another is a replay.
   */
  seen(agentId: string, hlc: string): number | undefined {
    return this.#agents.get(agentId)?.seqOf(hlc);
  }

  /**
   * Adds an accepted claim. `onTime` says whether it arrived before the end of the beat it
   * names (for reviewing and completed claims).
   */
  add(claim: StatusClaim, onTime: boolean, now: number, seq = 0): void {
    this.claims++;
    this.#remember(seq, 'claim');
    this.lastUpdated = now;
    this.#stateCounts.set(claim.state, (this.#stateCounts.get(claim.state) ?? 0) + 1);
    let a = this.#agents.get(claim.agent_id);
    if (!a) {
      a = new AgentInBar(claim);
      this.#agents.set(claim.agent_id, a);
    }
    a.remember(claim.hlc, seq);
    const at = claim.beat_index - this.fromBeat;
    if (at >= 0 && at <= this.toBeat - this.fromBeat) a.byBeat[at] = claim.state;
    // help_promises_fulfilled: helping, then completed later in the bar.
    if (claim.state === 'helping') a.flags |= HELPED;
    if (claim.state === 'completed' && a.has(HELPED)) a.flags |= FULFILLED;
    if ((claim.state === 'reviewing' || claim.state === 'completed') && onTime) a.flags |= ON_TIME_REVIEW;
    if (claim.state === 'failed') a.flags |= FAILED;
    if (claim.state === 'blocked') a.flags |= BLOCKED;
    // The agent's last state: the claim of the latest beat, the latest HLC within a beat.
    if (
      claim.beat_index > a.lastBeat ||
      (claim.beat_index === a.lastBeat && compareHlcText(claim.hlc, a.lastHlc) >= 0)
    ) {
      a.lastBeat = claim.beat_index;
      a.lastHlc = claim.hlc;
      a.lastState = claim.state;
    }
  }

  #remember(seq: number, kind: IssueKind | 'claim'): void {
    if (seq <= 0) return;
    this.#seqs.push(seq);
    this.#kinds.push(kind);
    if (seq > this.maxSeq) this.maxSeq = seq;
  }

  /**
   * The messages counted here with a sequence above `seq`, in the order counted, and what each
   * became: 'claim' for an accepted claim, else the issue kind (a late claim, a refusal).
   */
  countedAfter(seq: number): Array<{ readonly seq: number; readonly kind: IssueKind | 'claim' }> {
    const out: Array<{ seq: number; kind: IssueKind | 'claim' }> = [];
    for (let i = 0; i < this.#seqs.length; i++)
      if (this.#seqs[i]! > seq) out.push({ seq: this.#seqs[i]!, kind: this.#kinds[i]! });
    return out;
  }

  /**
   * Counts a refused or flagged claim; `seq`, the claim-stream sequence of a refused or late
   * claim (0 for a flag, or a claim without one).
   */
  issue(kind: IssueKind, now: number, seq = 0): void {
    this.#remember(seq, kind);
    this.#issues.set(kind, (this.#issues.get(kind) ?? 0) + 1);
    if (!NOT_REJECTED.has(kind)) this.rejected++;
    if (kind === 'late_claims') this.lateClaims++;
    if (ROTATION_PROBLEMS.has(kind)) this.#rotationProblem = true;
    this.lastUpdated = now;
  }

  /** The report sent for this window, once it was sent. */
  finalReport: BarReport | undefined;

  /**
   * Keeps only the sent report and the counts: per-agent detail and the replay set are
   * dropped, so a reported window costs about a kilobyte whatever the number of agents.
   */
  seal(report: BarReport, at: number): void {
    this.finalReport = report;
    this.reportedAt = at;
    // The stored report's counts (another replica's, when its copy was stored first).
    this.#sealedAgents = report.agents_reporting;
    this.claims = report.performance?.claims_processed ?? this.claims;
    this.rejected = report.performance?.claims_rejected ?? this.rejected;
    this.lateClaims = report.late_claims ?? 0;
    this.#agents.clear();
    this.#seqs.length = 0;
    this.#kinds.length = 0;
  }

  #sealedAgents: number | undefined;

  /** The INT-C BarReport of this window. */
  report(
    clusterId: string,
    o: {
      tempoDriftMs: number;
      rollupMs: number;
      barLength: number;
      generatedAt: number;
      hlc: string;
      builtLate?: boolean;
    },
  ): BarReport {
    const agents = [...this.#agents.values()];
    const counts: Partial<Record<IssueKind, number>> = Object.fromEntries(this.#issues);
    counts.failed_agents = agents.filter((a) => a.has(FAILED)).length;
    counts.blocked_agents = agents.filter((a) => a.has(BLOCKED)).length;
    if (agents.length === 0) counts.silence = 1;
    const issues = (Object.keys(ISSUE_KINDS) as IssueKind[])
      .filter((k) => (counts[k] ?? 0) > 0)
      .map((k) => ({
        severity: ISSUE_KINDS[k].severity,
        category: k,
        count: counts[k]!,
        description: issueText(k, counts[k]!),
      }));
    const stateCounts = Object.fromEntries(
      CLAIM_STATES.filter((s) => this.#stateCounts.has(s)).map((s) => [s, this.#stateCounts.get(s)!]),
    );
    return {
      type: 'backbeat.barreport.v1',
      cluster_id: clusterId,
      window_id: this.windowId,
      from_beat: this.fromBeat,
      to_beat: this.toBeat,
      agents_reporting: agents.length,
      on_time_reviews: agents.filter((a) => a.has(ON_TIME_REVIEW)).length,
      help_promises_fulfilled: agents.filter((a) => a.has(FULFILLED)).length,
      secret_rotations_ok: !this.#rotationProblem,
      tempo_drift_ms: Math.round(o.tempoDriftMs * 1000) / 1000,
      issues,
      state_counts: stateCounts,
      performance: {
        claims_processed: this.claims,
        claims_rejected: this.rejected,
        rollup_ms: Math.round(o.rollupMs * 1000) / 1000,
      },
      ...(o.builtLate ? { built_late: true } : {}),
      ...(this.lateClaims > 0 ? { late_claims: this.lateClaims } : {}),
      bar_length: o.barLength,
      generated_at: new Date(o.generatedAt).toISOString(),
      hlc: o.hlc,
    };
  }

  /** A summary for the HTTP API; with `agents`, each agent's last state too. */
  summary(agents = false): Record<string, unknown> {
    return {
      window_id: this.windowId,
      from_beat: this.fromBeat,
      to_beat: this.toBeat,
      claims: this.claims,
      rejected: this.rejected,
      agents_reporting: this.agents,
      reported: this.reportedAt !== undefined,
      last_updated: new Date(this.lastUpdated).toISOString(),
      ...(agents
        ? {
            agents: Object.fromEntries(
              [...this.#agents].map(([id, a]) => [
                id,
                {
                  last: a.lastState,
                  by_beat: Array.from({ length: this.toBeat - this.fromBeat + 1 }, (_, i) => a.byBeat[i] ?? null),
                },
              ]),
            ),
          }
        : {}),
      ...(this.finalReport ? { report: this.finalReport } : {}),
    };
  }
}
