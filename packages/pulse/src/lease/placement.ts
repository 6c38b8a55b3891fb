/**
 * Placement anti-affinity of the beat-critical streams (docs/spec.md §7 Election, terms and
 * fencing, "Stream placement"): the leading pulse keeps each stream's Raft leader off what that
 * stream must avoid. The lease bucket's and the state bucket's streams avoid the NATS server the
 * pulse is connected to: when that server's host is cut off, the majority then still has the
 * streams' leaders and can take the lease after the TTL, instead of first waiting out a stream
 * election (4 to 9 s in nats-server, not configurable). The beat stream avoids the lease stream's
 * leader: a kill of that node then costs the lease's outage grace only, not also a beat stream
 * election.
 *
 * Pure: what the server said of a stream (its answer, read through a gate), what it must avoid,
 * and whether to ask the stream's leader to step down now, given the rate limit, the bounded
 * attempts and how fresh the lease's last renewal is. The shell (stream-placement.ts) does the
 * requests and the timers.
 */
import type { GateResult } from '../kv-gate.js';

/** `--stream-placement`: keep the beat-critical streams' leaders off what they avoid, or not. */
export type StreamPlacementMode = 'off' | 'away-from-leader';

/** The values `--stream-placement` takes. */
export const STREAM_PLACEMENT_MODES: readonly StreamPlacementMode[] = ['off', 'away-from-leader'];

/** Where a stream's copies are, as the server's stream info says. */
export interface StreamLook {
  readonly stream: string;
  /** Copies the stream keeps (its `num_replicas`). */
  readonly replicas: number;
  /** Server name of the stream's Raft leader; undefined while it elects one (or on one server). */
  readonly leader: string | undefined;
  /** The other copies, and whether each is current. */
  readonly followers: ReadonlyArray<{ readonly name: string; readonly current: boolean }>;
}

/**
 * What a stream's leader must not share a server with; `reason` is the metric label of a
 * step-down for it.
 */
export type AvoidRule =
  /** The server the leading pulse is connected to. */
  | { readonly kind: 'own-server'; readonly reason: 'colocated' }
  /** The server that leads another stream (as seen in the same round). */
  | { readonly kind: 'leader-of'; readonly stream: string; readonly reason: string };

/** The own-server rule (metric label `colocated`). */
export const AVOID_OWN_SERVER: AvoidRule = { kind: 'own-server', reason: 'colocated' };

/** A stream and what its leader avoids, first rule first. */
export interface PlacedStream {
  readonly stream: string;
  readonly avoid: readonly AvoidRule[];
}

/** Where the other streams are led, as this round saw them (undefined: electing, or not answered). */
export type LeadersSeen = ReadonlyMap<string, string | undefined>;

/** The answer of {@link conflict}. */
export type Conflict =
  | { readonly kind: 'broken'; readonly reason: string }
  | { readonly kind: 'clear' }
  | { readonly kind: 'unknown' };

/**
 * Which rule a stream's leader breaks: its first rule whose server leads the stream (`broken`),
 * none (`clear`), or none known to be broken while a rule's server is not known (`unknown`).
 */
export function conflict(
  look: StreamLook,
  avoid: readonly AvoidRule[],
  ownServer: string | undefined,
  leaders: LeadersSeen,
): Conflict {
  let unknown = false;
  for (const rule of avoid) {
    const server = rule.kind === 'own-server' ? ownServer : leaders.get(rule.stream);
    if (server === undefined) unknown = true;
    else if (server === look.leader) return { kind: 'broken', reason: rule.reason };
  }
  return unknown ? { kind: 'unknown' } : { kind: 'clear' };
}

/** The limits of the rule. */
export interface PlacementRules {
  /** At most one step-down per stream this often. */
  readonly minIntervalMs: number;
  /** Step-downs in a row after which the stream still (or again) broke a rule: then pause. */
  readonly maxAttempts: number;
  /** How long the pause after {@link maxAttempts} lasts. */
  readonly pauseMs: number;
  /**
   * A step-down is asked for only this soon after the lease answered (a renewal), so the lease has
   * most of its TTL left.
   */
  readonly freshRenewalMs: number;
}

/**
 * The rules for a lease TTL: one step-down per stream per 10 s, 3 in a row, then 60 s of pause;
 * the renewal at most TTL/8 old.
 */
export function placementRules(ttlMs: number): PlacementRules {
  return {
    minIntervalMs: 10_000,
    maxAttempts: 3,
    pauseMs: 60_000,
    freshRenewalMs: Math.max(50, Math.round(ttlMs / 8)),
  };
}

/** What this node remembers of its step-downs of one stream. */
export interface StreamRecord {
  /** When it last asked the stream's leader to step down. */
  readonly lastAt: number | undefined;
  /** Step-downs since the stream was last seen led where it breaks no rule. */
  readonly attempts: number;
  /** Until when it leaves the stream alone after {@link PlacementRules.maxAttempts} attempts. */
  readonly pausedUntil: number | undefined;
}

/** Nothing done yet (a new term starts here). */
export const FRESH_RECORD: StreamRecord = { lastAt: undefined, attempts: 0, pausedUntil: undefined };

/** Why a stream is left where it is. */
export type LeaveReason =
  | 'server unknown'
  | 'single replica'
  | 'electing'
  | 'led elsewhere'
  | 'no current follower'
  | 'rate limited'
  | 'paused';

/** What to do about one stream now. */
export type PlacementVerdict =
  | { readonly kind: 'leave'; readonly why: LeaveReason }
  /** Led by this node's server, but the lease has not answered recently enough: look again after the next renewal. */
  | { readonly kind: 'wait-renewal' }
  /** Ask its leader to step down; `reason` is the broken rule's metric label. */
  | { readonly kind: 'step-down'; readonly reason: string }
  /** Attempts used up: pause (one log line). */
  | { readonly kind: 'pause' };

/** The input of {@link judge}. */
export interface PlacementInput {
  readonly now: number;
  readonly look: StreamLook;
  /** What the stream's leader avoids. */
  readonly avoid: readonly AvoidRule[];
  /** The server this node's connection is on (INFO `server_name`), when known. */
  readonly ownServer: string | undefined;
  /** The other streams' leaders seen this round. */
  readonly leaders: LeadersSeen;
  readonly record: StreamRecord;
  /** How long ago the lease last answered this node (a renewal), or null when it never did. */
  readonly renewalAgeMs: number | null;
  readonly rules: PlacementRules;
}

/** Whether to ask `look.stream`'s leader to step down now (only a leading node asks). */
export function judge(i: PlacementInput): PlacementVerdict {
  const { look, record, rules, now } = i;
  if (look.replicas <= 1) return { kind: 'leave', why: 'single replica' };
  if (look.leader === undefined) return { kind: 'leave', why: 'electing' };
  const c = conflict(look, i.avoid, i.ownServer, i.leaders);
  if (c.kind === 'unknown') return { kind: 'leave', why: 'server unknown' };
  if (c.kind === 'clear') return { kind: 'leave', why: 'led elsewhere' };
  // A step-down with no follower caught up would leave the stream electing for a while.
  if (!look.followers.some((f) => f.current)) return { kind: 'leave', why: 'no current follower' };
  if (record.pausedUntil !== undefined && now < record.pausedUntil) return { kind: 'leave', why: 'paused' };
  if (record.attempts >= rules.maxAttempts) return { kind: 'pause' };
  if (record.lastAt !== undefined && now - record.lastAt < rules.minIntervalMs)
    return { kind: 'leave', why: 'rate limited' };
  if (i.renewalAgeMs === null || i.renewalAgeMs > rules.freshRenewalMs) return { kind: 'wait-renewal' };
  return { kind: 'step-down', reason: c.reason };
}

/**
 * The record after a look: a stream seen led where none of its rules is broken (all of them
 * known) starts counting attempts afresh.
 */
export function afterLook(
  r: StreamRecord,
  look: StreamLook,
  avoid: readonly AvoidRule[],
  ownServer: string | undefined,
  leaders: LeadersSeen,
): StreamRecord {
  if (look.leader === undefined || r.attempts === 0) return r;
  return conflict(look, avoid, ownServer, leaders).kind === 'clear' ? { ...r, attempts: 0 } : r;
}

/** The record after a step-down was asked for at `now`. */
export function afterStepDown(r: StreamRecord, now: number): StreamRecord {
  return { ...r, lastAt: now, attempts: r.attempts + 1 };
}

/** The record after the attempts were used up at `now`: left alone for the pause, then counted afresh. */
export function afterPause(r: StreamRecord, now: number, rules: PlacementRules): StreamRecord {
  return { ...r, attempts: 0, pausedUntil: now + rules.pauseMs };
}

/** `{ "error": { "description": ... } }` of a JetStream API answer, when there is one. */
function apiError(v: Record<string, unknown>): string | undefined {
  const e = v.error;
  if (e === undefined) return undefined;
  const d = typeof e === 'object' && e !== null ? (e as Record<string, unknown>).description : undefined;
  return typeof d === 'string' ? d.slice(0, 200) : 'an error without a description';
}

function parseObject(data: Uint8Array): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return 'not JSON';
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : 'not a JSON object';
}

/**
 * The gate of a `$JS.API.STREAM.INFO.<stream>` answer: where the stream's copies are, or why the
 * answer was refused (an API error, or a shape that is not a stream info). A stream on one server
 * has no `cluster.leader`.
 */
export function gateStreamInfo(stream: string, data: Uint8Array): GateResult<StreamLook> {
  const v = parseObject(data);
  if (typeof v === 'string') return { ok: false, reason: v };
  const err = apiError(v);
  if (err !== undefined) return { ok: false, reason: err };
  const config = v.config as Record<string, unknown> | undefined;
  const replicas = config?.num_replicas ?? 1;
  if (!Number.isSafeInteger(replicas) || (replicas as number) < 0)
    return { ok: false, reason: 'config.num_replicas is not an integer' };
  const cluster = typeof v.cluster === 'object' && v.cluster !== null ? (v.cluster as Record<string, unknown>) : {};
  const leader = typeof cluster.leader === 'string' && cluster.leader.length > 0 ? cluster.leader : undefined;
  const list = Array.isArray(cluster.replicas) ? (cluster.replicas as unknown[]) : [];
  const followers = list.flatMap((r) => {
    const o = typeof r === 'object' && r !== null ? (r as Record<string, unknown>) : {};
    return typeof o.name === 'string' ? [{ name: o.name, current: o.current === true }] : [];
  });
  return { ok: true, value: { stream, replicas: Math.max(1, replicas as number), leader, followers } };
}

/** The gate of a `$JS.API.STREAM.LEADER.STEPDOWN.<stream>` answer: done, or why not. */
export function gateStepDownAnswer(data: Uint8Array): GateResult<true> {
  const v = parseObject(data);
  if (typeof v === 'string') return { ok: false, reason: v };
  const err = apiError(v);
  if (err !== undefined) return { ok: false, reason: err };
  return v.success === true ? { ok: true, value: true } : { ok: false, reason: 'the answer does not say success' };
}
