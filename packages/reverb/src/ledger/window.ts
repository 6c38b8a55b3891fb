/**
 * One bar's aggregation (BACKBEAT-REQ-020, REQ-021): the accepted claims of a window and the
 * KPIs of its BarReport. Pure: the service feeds it claims and asks for the report.
 */
import { CLAIM_STATES, type BarReport, type ClaimState, type StatusClaim } from '@backbeat/contracts';

/**
 * Why claims were refused or flagged, as counted in the report's issues: severity and the
 * description's words for one and for several (`1 agent reported failed`, `2 agents ...`).
 */
export const ISSUE_KINDS = {
  invalid: {
    severity: 'error',
    text: ['claim broke the INT-B contract or was not JSON', 'claims broke the INT-B contract or were not JSON'],
  },
  unsigned: {
    severity: 'error',
    text: ['claim had no signature (signatures required)', 'claims had no signature (signatures required)'],
  },
  unsigned_accepted: {
    severity: 'warning',
    text: ['claim was accepted without a signature', 'claims were accepted without a signature'],
  },
  bad_signature: {
    severity: 'critical',
    text: [
      'claim had a signature no trusted key of its agent verifies',
      'claims had a signature no trusted key of their agent verifies',
    ],
  },
  retired_key: {
    severity: 'critical',
    text: ['claim was signed with a retired key', 'claims were signed with a retired key'],
  },
  malformed_signature: {
    severity: 'error',
    text: [
      'claim had a signature that is not base64 of 64 bytes',
      'claims had a signature that is not base64 of 64 bytes',
    ],
  },
  agent_mismatch: {
    severity: 'critical',
    text: [
      "claim's x-agent-id header named another agent than its agent_id",
      "claims' x-agent-id headers named another agent than their agent_id",
    ],
  },
  unknown_agent: {
    severity: 'error',
    text: [
      'claim came from an agent missing from the trust file',
      'claims came from agents missing from the trust file',
    ],
  },
  replayed: {
    severity: 'warning',
    text: [
      'claim was a replay or named a beat far from the beat it was stored at',
      'claims were replays or named a beat far from the beat they were stored at',
    ],
  },
  too_large: {
    severity: 'error',
    text: ['claim was larger than the size limit', 'claims were larger than the size limit'],
  },
  late_claims: {
    severity: 'warning',
    text: [
      'claim arrived for a bar already reported (not added to that report)',
      'claims arrived for bars already reported (not added to those reports)',
    ],
  },
  hlc_ahead: {
    severity: 'warning',
    text: ['claim carried a clock too far ahead (not adopted)', 'claims carried a clock too far ahead (not adopted)'],
  },
  failed_agents: { severity: 'error', text: ['agent reported failed', 'agents reported failed'] },
  blocked_agents: { severity: 'warning', text: ['agent reported blocked', 'agents reported blocked'] },
  silence: { severity: 'warning', text: ['bar had no agent reporting', 'bars had no agent reporting'] },
} as const satisfies Record<
  string,
  { severity: BarReport['issues'][number]['severity']; text: readonly [string, string] }
>;

/** The issue sentence for `count` of `kind`, singular or plural. */
export function issueText(kind: IssueKind, count: number): string {
  return `${count} ${ISSUE_KINDS[kind].text[count === 1 ? 0 : 1]}`;
}

/** Kinds that flag a claim without refusing it. */
const NOT_REJECTED: ReadonlySet<IssueKind> = new Set(['late_claims', 'unsigned_accepted', 'hlc_ahead']);

/**
 * What makes a bar's `secret_rotations_ok` false: a claim signed with a key the trust file
 * lists as retired, or a claim of an agent whose trusted keys do not verify it (e.g. after a
 * trust reload the agent has not followed).
 */
export const ROTATION_PROBLEMS: ReadonlySet<IssueKind> = new Set(['bad_signature', 'retired_key']);

/** One issue kind. */
export type IssueKind = keyof typeof ISSUE_KINDS;

const HELPED = 1;
const FULFILLED = 2;
const ON_TIME_REVIEW = 4;
const FAILED = 8;
const BLOCKED = 16;

/**
 * A 53-bit hash of an HLC string (two FNV-1a variants): what an agent's counted claims are
 * remembered by, 8 bytes each instead of a string. Two different HLCs of one agent in one bar
 * collide with a probability of about n^2 / 2^53.
 */
function hlcHash(hlc: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < hlc.length; i++) {
    const c = hlc.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
}

/** Orders two wire HLCs (contract-valid) like compareHlc, without parsing: group by group, as hex numbers. */
export function compareHlcText(a: string, b: string): number {
  if (a === b) return 0;
  // Groups of equal widths (the common case: one agent's clock, zero-padded): lowercase hex
  // of equal widths orders as text.
  if (a.length === b.length && a.indexOf(':') === b.indexOf(':') && a.lastIndexOf(':') === b.lastIndexOf(':'))
    return a < b ? -1 : 1;
  const x = a.split(':');
  const y = b.split(':');
  for (let i = 0; i < 3; i++) {
    const p = (x[i] ?? '').replace(/^0+(?=.)/, '');
    const q = (y[i] ?? '').replace(/^0+(?=.)/, '');
    if (p.length !== q.length) return p.length < q.length ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** One agent in one bar, kept small (BACKBEAT-PER: about 0.5 KB per agent in an open window). */
class AgentInBar {
  /** State at each beat of the bar (index: beat - fromBeat), for the dashboard. */
  readonly byBeat: Array<ClaimState | undefined> = [];
  lastState: ClaimState;
  lastBeat: number;
  lastHlc: string;
  flags = 0;
  /** Hashes of the HLCs counted, and the stream sequence each came in (0: none known). */
  readonly hashes: number[] = [];
  readonly seqs: number[] = [];

  constructor(claim: StatusClaim) {
    this.lastState = claim.state;
    this.lastBeat = claim.beat_index;
    this.lastHlc = claim.hlc;
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  seqOf(hlc: string): number | undefined {
    const i = this.hashes.indexOf(hlcHash(hlc));
    return i < 0 ? undefined : this.seqs[i];
  }

  remember(hlc: string, seq: number): void {
    this.hashes.push(hlcHash(hlc));
    this.seqs.push(seq);
  }
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
