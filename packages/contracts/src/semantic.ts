/**
 * Rules of the contracts that JSON Schema cannot say, checked after a message passed its
 * schema. Each has a kebab-case rule name (a schema keyword never has a dash).
 */
import { windowId } from '@backbeat/core';
import type { BarReport } from './generated/types.js';
import type { ValidationIssue } from './issues.js';

/** Names of the rules beyond the schemas. */
export const SEMANTIC_RULES = {
  toBeatAfterFromBeat: 'to-beat-after-from-beat',
  windowIdMatchesFromBeat: 'window-id-matches-from-beat',
  toBeatMatchesBarLength: 'to-beat-matches-bar-length',
} as const;

/** One of {@link SEMANTIC_RULES}. */
export type SemanticRule = (typeof SEMANTIC_RULES)[keyof typeof SEMANTIC_RULES];

/**
 * The BarReport rules (docs/spec.md §4 The three messages, BACKBEAT-REQ-005, BACKBEAT-REQ-021):
 * - to_beat is not before from_beat;
 * - window_id is the window of from_beat (the bar's downbeat) in cluster_id;
 * - with bar_length given, to_beat = from_beat + bar_length - 1.
 * Expects a value that passed the BarReport schema; returns [] when every rule holds.
 */
export function barReportIssues(report: BarReport): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const { from_beat: from, to_beat: to, cluster_id: cluster } = report;
  // a custom schema let it through
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || typeof cluster !== 'string') return out;
  if (to < from) {
    out.push({
      path: '/to_beat',
      rule: SEMANTIC_RULES.toBeatAfterFromBeat,
      message: `to_beat (${to}) must not be before from_beat (${from})`,
    });
  } else if (report.bar_length !== undefined && to !== from + report.bar_length - 1) {
    out.push({
      path: '/to_beat',
      rule: SEMANTIC_RULES.toBeatMatchesBarLength,
      message: `to_beat must be from_beat + bar_length - 1 = ${from + report.bar_length - 1}, got ${to}`,
    });
  }
  const expected = windowId(cluster, from);
  if (report.window_id !== expected) {
    out.push({
      path: '/window_id',
      rule: SEMANTIC_RULES.windowIdMatchesFromBeat,
      message: `window_id must be the window of from_beat ${from} in cluster '${cluster}': ${expected}`,
    });
  }
  return out;
}
