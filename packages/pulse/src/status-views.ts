/**
 * The status views of a pulse node: what GET /tempo, /leader, /drift, /health and /ready
 * report. Pure functions of a snapshot of the node, so each view says what the node can
 * actually do at that instant.
 */
import { beatDurationMs, tempoAt, type LifecycleState, type TempoMap } from '@backbeat/core';
import type { ClockCheckStatus } from './lease/clock-check.js';
import type { DriftReport } from './drift.js';
import type { Leadership } from './lease/leader-elector.js';
import type { PendingTempo } from './tempo/tempo-changes.js';

/** Lifecycle of a service. */
export type ServiceState = LifecycleState;

/**
 * What a node is doing: leading; following; unable to reach the lease in KV (a leader that
 * cannot renew, or a follower that cannot campaign); kept from leading by its clock offset.
 */
export type LeaderRole = 'leader' | 'follower' | 'lease_unreachable' | 'clock_offset' | 'stopped';

/** What GET /tempo reports. */
export interface TempoStatus {
  readonly current_bpm: number | null;
  readonly pending_bpm: number | null;
  readonly can_change: boolean;
  readonly next_change: string | null;
  readonly reason: string;
  readonly min_bpm: number;
  readonly max_bpm: number;
  readonly bar_length: number | null;
}

/** What GET /leader reports. */
export interface LeaderStatus {
  readonly node_id: string;
  /** True only while this node may publish (it holds a lease that cannot have expired). */
  readonly is_leader: boolean;
  /** The node publishing now, as far as this node knows (never one that stepped down). */
  readonly leader: string | null;
  /** The term of that leadership: counts leaderships (1, 2, 3 ...). */
  readonly term: number;
  readonly cluster_id: string;
  readonly role: LeaderRole;
  readonly previous_leader: string | null;
  /** Why leadership last changed. */
  readonly change_reason: string;
  /** Last successful lease write or read of this node (RFC 3339), or null. */
  readonly last_renewal: string | null;
  readonly lease_reachable: boolean;
  /** The lease TTL in force (the lease bucket's). */
  readonly lease_ttl_ms: number | null;
}

/** What GET /drift reports: the grid's drift and the clock checks. */
export interface PulseDriftReport extends DriftReport {
  /** This node's clock minus the NATS servers', in ms, or null before the first probe. */
  readonly clock_offset_ms: number | null;
  readonly clock_offset_uncertainty_ms: number | null;
  /** 'ok', 'beyond' (this node will not lead) or 'unknown'. */
  readonly clock_offset_state: ClockCheckStatus['state'] | 'not_checked';
  readonly max_clock_offset_ms: number | null;
  /** This node's wall clock minus the other pulse nodes' (from their frames' HLC), in ms. */
  readonly peer_offset_ms: number | null;
}

/** What GET /ready reports. */
export interface Readiness {
  readonly ready: boolean;
  readonly nats_connected: boolean;
  readonly has_tempo_map: boolean;
  /** True while this node can lead now or follow the lease in KV. */
  readonly lease_reachable: boolean;
}

/** A snapshot of a node, the input of every view. */
export interface PulseSnapshot {
  readonly state: ServiceState;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly now: number;
  readonly map: TempoMap | null;
  readonly pending: PendingTempo | null;
  readonly leadership: Leadership;
  readonly canPublish: boolean;
  readonly connected: boolean;
  readonly clock: ClockCheckStatus | null;
  readonly peerOffsetMs: number | null;
  readonly leaseTtlMs: number | null;
  readonly minBpm: number;
  readonly maxBpm: number;
  readonly lastFrameAt: number | undefined;
}

/** GET /tempo. */
export function tempoStatus(s: PulseSnapshot): TempoStatus {
  const { map, pending } = s;
  return {
    current_bpm: map ? tempoAt(map, s.now) : null,
    pending_bpm: pending ? pending.tempo_bpm : null,
    can_change: map !== null && pending === null,
    next_change: pending?.effective_at ?? null,
    reason: !map ? 'no tempo map yet' : pending ? 'a tempo change is pending until the next downbeat' : '',
    min_bpm: s.minBpm,
    max_bpm: s.maxBpm,
    bar_length: map ? map.barLength : null,
  };
}

/** The node's role (see {@link LeaderRole}). */
export function roleOf(s: PulseSnapshot): LeaderRole {
  const l = s.leadership;
  if (s.state !== 'running') return 'stopped';
  if (l.leaseReachable === false) return 'lease_unreachable';
  if (s.canPublish) return 'leader';
  if (s.clock?.state === 'beyond') return 'clock_offset';
  return 'follower';
}

/** GET /leader. */
export function leaderStatus(s: PulseSnapshot): LeaderStatus {
  const l = s.leadership;
  return {
    node_id: s.nodeId,
    is_leader: s.canPublish,
    leader: l.leaderId,
    term: l.term,
    cluster_id: s.clusterId,
    role: roleOf(s),
    previous_leader: l.previousLeaderId ?? null,
    change_reason: l.reason ?? '',
    last_renewal: l.lastRenewalAt == null ? null : new Date(l.lastRenewalAt).toISOString(),
    lease_reachable: l.leaseReachable !== false,
    lease_ttl_ms: s.leaseTtlMs,
  };
}

/** True while this node is a follower that receives no frames and keeps time alone. */
export function isDegraded(s: PulseSnapshot): boolean {
  if (!s.map || s.canPublish) return false;
  const phaseMs = beatDurationMs(tempoAt(s.map, s.now)) / s.map.phases.length;
  return s.lastFrameAt === undefined || s.now - s.lastFrameAt > phaseMs + 50;
}

/** GET /drift (REQ-003) with the clock checks. */
export function driftView(s: PulseSnapshot, drift: DriftReport): PulseDriftReport {
  return {
    ...drift,
    clock_offset_ms: s.clock?.offsetMs ?? null,
    clock_offset_uncertainty_ms: s.clock?.uncertaintyMs ?? null,
    clock_offset_state: s.clock ? s.clock.state : 'not_checked',
    max_clock_offset_ms: s.clock?.maxOffsetMs ?? null,
    peer_offset_ms: s.peerOffsetMs,
  };
}

/** GET /ready: running, connected, on a grid, and able to lead or to follow the KV. */
export function readiness(s: PulseSnapshot): Readiness {
  const leaseReachable = s.canPublish || s.leadership.leaseReachable !== false;
  return {
    ready: s.state === 'running' && s.connected && s.map !== null && leaseReachable,
    nats_connected: s.connected,
    has_tempo_map: s.map !== null,
    lease_reachable: leaseReachable,
  };
}
