/**
 * Subjects and JetStream names of a cluster (docs/spec.md §3 Subjects and shared state), and the
 * NATS subject rules the in-memory bus enforces exactly as nats-server does.
 */
import { InvalidArgumentError } from '@backbeat/core';
import { InvalidSubjectError } from './errors.js';

/** A cluster id is one subject token (docs/spec.md §3 Subjects and shared state). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** The subjects of one cluster. */
export interface ClusterSubjects {
  /** INT-A BeatFrames from the pulse leader. */
  readonly beat: string;
  /** INT-B StatusClaims from agents. */
  readonly status: string;
  /** INT-C BarReports. */
  readonly reverb: string;
  /** Legacy {bar, beat} messages, one per beat (REQ-043). */
  readonly control: string;
  /** Messages that failed validation, the reason in a header. */
  readonly dlq: string;
  /** Where reverb stores BarReports (a stream-only subject; see reverb). */
  readonly reportStore: string;
}

/**
 * Subjects of cluster `clusterId`.
 * @throws InvalidArgumentError when the id is not a single subject token
 */
export function subjects(clusterId: string): ClusterSubjects {
  assertClusterId(clusterId);
  const p = `backbeat.${clusterId}`;
  return Object.freeze({
    beat: `${p}.beat`,
    status: `${p}.status`,
    reverb: `${p}.reverb`,
    control: `${p}.control`,
    dlq: `${p}.dlq`,
    reportStore: `${p}.reports`,
  });
}

/** @throws InvalidArgumentError unless the id matches {@link CLUSTER_ID_PATTERN} */
export function assertClusterId(clusterId: string): void {
  if (typeof clusterId !== 'string' || !CLUSTER_ID_PATTERN.test(clusterId)) {
    throw new InvalidArgumentError(
      'cluster_id',
      `'${clusterId}' must match ${CLUSTER_ID_PATTERN.source} (one subject token, no dots)`,
    );
  }
}

/** JetStream names (KV buckets and streams) of a cluster. */
export interface ClusterNames {
  /** KV bucket for shared state without expiry (tempo map, pending tempo change). */
  readonly stateBucket: string;
  /** KV bucket whose TTL is the leader lease TTL. */
  readonly leaseBucket: string;
  /** KV bucket where pulse and reverb nodes announce themselves (entries expire by its TTL). */
  readonly presenceBucket: string;
  /** Stream capturing StatusClaims. */
  readonly statusStream: string;
  /** Stream keeping BarReports. */
  readonly reportStream: string;
}

/** JetStream names for `clusterId` (names may not hold dots, spaces, `*` or `>`). */
export function clusterNames(clusterId: string): ClusterNames {
  assertClusterId(clusterId);
  return Object.freeze({
    stateBucket: `backbeat_${clusterId}_state`,
    leaseBucket: `backbeat_${clusterId}_lease`,
    presenceBucket: `backbeat_${clusterId}_presence`,
    statusStream: `BACKBEAT_${clusterId}_STATUS`,
    reportStream: `BACKBEAT_${clusterId}_REPORTS`,
  });
}

/**
 * Checks a subject: non-empty tokens, no white space; with `wildcards`, `*` as a whole token
 * and `>` only as the last token.
 * @throws InvalidSubjectError naming the rule
 */
export function assertSubject(subject: string, wildcards: boolean): void {
  if (typeof subject !== 'string' || subject.length === 0) throw new InvalidSubjectError(String(subject), 'empty');
  if (/\s/.test(subject)) throw new InvalidSubjectError(subject, 'contains white space');
  const tokens = subject.split('.');
  tokens.forEach((t, i) => {
    if (t.length === 0) throw new InvalidSubjectError(subject, 'has an empty token');
    const wild = t === '*' || t === '>';
    if (wild && !wildcards) throw new InvalidSubjectError(subject, 'wildcards are not allowed when publishing');
    if (t === '>' && i !== tokens.length - 1) throw new InvalidSubjectError(subject, "'>' must be the last token");
  });
}

/** True when `subject` (no wildcards) matches `pattern` (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** True when some subject matches both patterns (how nats-server finds overlapping streams). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const s = x[i];
    const t = y[i];
    if (s === undefined || t === undefined) return false;
    if (s === '>' || t === '>') return true;
    if (s !== t && s !== '*' && t !== '*') return false;
  }
  return true;
}

/** Checks a JetStream bucket or stream name (no dots, spaces, `*` or `>`). @throws InvalidSubjectError */
export function assertJetStreamName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
    throw new InvalidSubjectError(String(name), 'JetStream names use only letters, digits, _ and - (1 to 255)');
  }
}

/** Checks a queue group name (a non-empty token without white space). @throws InvalidSubjectError */
export function assertQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.length === 0 || /\s/.test(queue))
    throw new InvalidSubjectError(String(queue), 'queue names are non-empty, without white space');
}
