/**
 * The issue kinds of a BarReport (BACKBEAT-REQ-021): why claims were refused or flagged, their
 * severity and the report's wording.
 */
import type { BarReport } from '@backbeat/contracts';

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
export const NOT_REJECTED: ReadonlySet<IssueKind> = new Set(['late_claims', 'unsigned_accepted', 'hlc_ahead']);

/**
 * What makes a bar's `secret_rotations_ok` false: a claim signed with a key the trust file
 * lists as retired, or a claim of an agent whose trusted keys do not verify it (e.g. after a
 * trust reload the agent has not followed).
 */
export const ROTATION_PROBLEMS: ReadonlySet<IssueKind> = new Set(['bad_signature', 'retired_key']);

/** One issue kind. */
export type IssueKind = keyof typeof ISSUE_KINDS;
