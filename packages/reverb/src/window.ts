/**
 * One bar's aggregation (BACKBEAT-REQ-020, REQ-021): the accepted claims of a window and the
 * KPIs of its BarReport. Pure: the service feeds it claims and asks for the report.
 */
import { CLAIM_STATES, type BarReport, type ClaimState, type StatusClaim } from '@backbeat/contracts';

/** Why claims were refused or flagged, as counted in the report's issues. */
export const ISSUE_KINDS = {
  invalid: { severity: 'error', text: 'claims broke the INT-B contract or were not JSON' },
  unsigned: { severity: 'error', text: 'claims had no signature (signatures required)' },
  unsigned_accepted: { severity: 'warning', text: 'claims were accepted without a signature' },
  bad_signature: { severity: 'critical', text: 'claims had a signature no trusted key of their agent verifies' },
  malformed_signature: { severity: 'error', text: 'claims had a signature that is not base64 of 64 bytes' },
  unknown_agent: { severity: 'error', text: 'claims came from agents missing from the trust file' },
  replayed: { severity: 'warning', text: 'claims were replays or named a beat far outside the current window' },
  too_large: { severity: 'error', text: 'claims were larger than the size limit' },
  late_claims: { severity: 'warning', text: 'claims arrived after their bar was reported' },
  failed_agents: { severity: 'error', text: 'agents reported failed' },
  blocked_agents: { severity: 'warning', text: 'agents reported blocked' },
  silence: { severity: 'warning', text: 'no agent reported in this bar' },
} as const satisfies Record<string, { severity: BarReport['issues'][number]['severity']; text: string }>;

/** One issue kind. */
export type IssueKind = keyof typeof ISSUE_KINDS;

interface AgentInBar {
  /** State at each beat of the bar (index: beat - fromBeat), for the dashboard. */
  readonly byBeat: Array<ClaimState | undefined>;
  lastState: ClaimState;
  lastKey: string;
  helped: boolean;
  fulfilled: boolean;
  onTimeReview: boolean;
  failed: boolean;
  blocked: boolean;
}

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
  readonly #seen = new Set<string>();
  #rotationProblem = false;

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

  /** True when this (agent, hlc) was already counted: a replay or a redelivery. */
  seen(agentId: string, hlc: string): boolean {
    return this.#seen.has(`${agentId}|${hlc}`);
  }

  /**
   * Adds an accepted claim. `onTime` says whether it arrived before the end of the beat it
   * names (for reviewing and completed claims).
   */
  add(claim: StatusClaim, onTime: boolean, now: number): void {
    this.#seen.add(`${claim.agent_id}|${claim.hlc}`);
    this.claims++;
    this.lastUpdated = now;
    this.#stateCounts.set(claim.state, (this.#stateCounts.get(claim.state) ?? 0) + 1);
    const key = `${String(claim.beat_index).padStart(16, '0')}|${claim.hlc}`;
    let a = this.#agents.get(claim.agent_id);
    if (!a) {
      a = { byBeat: [], lastState: claim.state, lastKey: key, helped: false, fulfilled: false, onTimeReview: false, failed: false, blocked: false };
      this.#agents.set(claim.agent_id, a);
    }
    const at = claim.beat_index - this.fromBeat;
    if (at >= 0 && at <= this.toBeat - this.fromBeat) a.byBeat[at] = claim.state;
    // help_promises_fulfilled: helping, then completed later in the bar.
    if (claim.state === 'helping') a.helped = true;
    if (claim.state === 'completed' && a.helped) a.fulfilled = true;
    if ((claim.state === 'reviewing' || claim.state === 'completed') && onTime) a.onTimeReview = true;
    if (claim.state === 'failed') a.failed = true;
    if (claim.state === 'blocked') a.blocked = true;
    if (key >= a.lastKey) {
      a.lastKey = key;
      a.lastState = claim.state;
    }
  }

  /** Counts a refused or flagged claim. */
  issue(kind: IssueKind, now: number): void {
    this.#issues.set(kind, (this.#issues.get(kind) ?? 0) + 1);
    if (kind !== 'late_claims' && kind !== 'unsigned_accepted') this.rejected++;
    if (kind === 'bad_signature') this.#rotationProblem = true;
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
    this.#sealedAgents = this.#agents.size;
    this.#agents.clear();
    this.#seen.clear();
  }

  #sealedAgents: number | undefined;

  /** The INT-C BarReport of this window. */
  report(clusterId: string, o: { tempoDriftMs: number; rollupMs: number; barLength: number; generatedAt: number; hlc: string }): BarReport {
    const agents = [...this.#agents.values()];
    const counts: Partial<Record<IssueKind, number>> = Object.fromEntries(this.#issues);
    counts.failed_agents = agents.filter((a) => a.failed).length;
    counts.blocked_agents = agents.filter((a) => a.blocked).length;
    if (agents.length === 0) counts.silence = 1;
    const issues = (Object.keys(ISSUE_KINDS) as IssueKind[])
      .filter((k) => (counts[k] ?? 0) > 0)
      .map((k) => ({ severity: ISSUE_KINDS[k].severity, category: k, count: counts[k]!, description: `${counts[k]} ${ISSUE_KINDS[k].text}` }));
    const stateCounts = Object.fromEntries(CLAIM_STATES.filter((s) => this.#stateCounts.has(s)).map((s) => [s, this.#stateCounts.get(s)!]));
    return {
      type: 'backbeat.barreport.v1',
      cluster_id: clusterId,
      window_id: this.windowId,
      from_beat: this.fromBeat,
      to_beat: this.toBeat,
      agents_reporting: agents.length,
      on_time_reviews: agents.filter((a) => a.onTimeReview).length,
      help_promises_fulfilled: agents.filter((a) => a.fulfilled).length,
      secret_rotations_ok: !this.#rotationProblem,
      tempo_drift_ms: Math.round(o.tempoDriftMs * 1000) / 1000,
      issues,
      state_counts: stateCounts,
      performance: { claims_processed: this.claims, claims_rejected: this.rejected, rollup_ms: Math.round(o.rollupMs * 1000) / 1000 },
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
      ...(agents ? { agents: Object.fromEntries([...this.#agents].map(([id, a]) => [id, { last: a.lastState, by_beat: Array.from({ length: this.toBeat - this.fromBeat + 1 }, (_, i) => a.byBeat[i] ?? null) }])) } : {}),
      ...(this.finalReport ? { report: this.finalReport } : {}),
    };
  }
}
