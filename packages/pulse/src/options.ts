/** Pulse options: documented, defaulted, validated and frozen. */
import { randomBytes } from 'node:crypto';
import {
  CONTRACT_MAX_BPM,
  CONTRACT_MIN_BPM,
  DEFAULT_BAR_LENGTH,
  DEFAULT_CLUSTER_ID,
  InvalidArgumentError,
  PHASE_ALIASES,
  PHASES,
  isPhase,
  systemClock,
  silentLogger,
  type Clock,
  type Logger,
  type Phase,
} from '@backbeat/core';
import {
  assertClusterId,
  checkReplicaSetting,
  type Bus,
  type NatsConfig,
  type ReplicaSetting,
} from '@backbeat/transport';
import type { Registry } from 'prom-client';
import type { BeatFencing } from './emit/beat-sink.js';
import type { LeaderElector } from './lease/leader-elector.js';
import { DEFAULT_KV_OUTAGE_GRACE_MS } from './lease/outage.js';
import { STREAM_PLACEMENT_MODES, type StreamPlacementMode } from './lease/placement.js';

/** Options of {@link Pulse}. */
export interface PulseOptions {
  /** The bus (NatsBus in production, MemoryBus in dev). */
  bus: Bus;
  /** @default 'chorus-aus-01' */
  clusterId?: string;
  /** @default 'pulse-' + 8 random hex chars */
  nodeId?: string;
  /** Tempo of a new grid (an existing tempo map wins). @default 12 */
  bpm?: number;
  /** Beats per bar of a new grid. @default 8 */
  barLength?: number;
  /** Phases of a new grid; `work` means execute. @default ['plan', 'execute', 'review'] */
  phases?: readonly string[];
  /** Lowest tempo a change may set. @default 4 */
  minBpm?: number;
  /** Highest tempo a change may set. @default 24 */
  maxBpm?: number;
  /**
   * Leader lease TTL in ms. It must equal the lease bucket's TTL when the bucket exists
   * (start() refuses otherwise); unset: the bucket's TTL, or 2000 for a new bucket.
   */
  leaseTtlMs?: number;
  /**
   * Largest clock offset against the NATS servers a node may lead with; a node provably
   * beyond it does not take or keep the lease. Infinity turns the check off. Only on a NATS
   * bus (the in-memory bus shares the process clock). @default 20
   */
  maxClockOffsetMs?: number;
  /**
   * How long past its lease the leader may keep publishing while the lease KV answers "no
   * responders" (its stream has no leader, so nobody can take the lease: a NATS node kill
   * makes nats-server 2.9 elect for 4 to 9 s). Bounded by fresh evidence every few hundred
   * ms; a network partition lets the old leader publish for up to this long to the clients
   * on its side (SDK clients drop frames whose term is not the lease's). 0: stop at the
   * lease's expiry whatever the cause. `--kv-outage-grace`. @default 15000
   */
  kvOutageGraceMs?: number;
  /**
   * Create the lease bucket with limit markers where the server has them (2.11.7+), and turn
   * them on for an existing bucket: a standby then sees the lease expire and takes it at once
   * (docs/spec.md §7 Election, terms and fencing). false: followers find an expired lease by
   * polling (every min(250, TTL / 8) ms); a bucket that has markers keeps them. `--lease-markers`.
   * @default true
   */
  leaseMarkers?: boolean;
  /**
   * Copies of every bucket the pulse creates (state, lease, presence;
   * docs/decisions/0001-replicated-state.md): a number from 1 to 5, or 'auto' = min(3, the
   * JetStream servers the connection sees; 1 on one server or the in-memory bus). An existing
   * bucket with another count is scaled when the server allows it, else one log line says what
   * differs and how to fix it. @default 'auto'
   */
  replicas?: ReplicaSetting;
  /**
   * 'away-from-leader': the leading node keeps the Raft leaders of the lease and state buckets'
   * streams off the NATS server it is connected to (asks such a leader to step down, rate-limited),
   * so a cut of its host leaves the majority with those leaders (docs/spec.md §7 Election, terms and
   * fencing). Nothing to do on one server or with unreplicated buckets. `--stream-placement`.
   * @default 'away-from-leader'
   */
  streamPlacement?: StreamPlacementMode;
  /** 'kv' (lease in JetStream KV), 'single' (always leader), or an elector. @default 'kv' */
  elector?: 'kv' | 'single' | LeaderElector;
  /** Slots later than this are skipped, never sent stale. @default min(phase / 2, 250) */
  staleAfterMs?: number;
  /** Sub-millisecond scheduling (spins the last ~1 ms before each frame). @default true */
  precise?: boolean;
  /**
   * Connection settings for the emitter thread (docs/decisions/0003-emitter-thread.md). When set,
   * on a NATS bus with the real clock, the schedule and the publish run in a worker thread with its
   * own connection, and KV, HTTP, metrics and logging stay on this one. Unset: the emitter runs
   * in-thread.
   */
  emitterNats?: NatsConfig;
  /**
   * Who checks the fencing token (the term) of every BeatFrame (docs/spec.md §7 Election, terms and
   * fencing): 'server' writes each frame into the cluster's beat stream with the expected last
   * sequence, so the NATS server refuses a stale leader's frame and republishes the rest to the
   * beat subject; 'sender' publishes to the beat subject directly and fences in the sender alone.
   * `--beat-fencing`. @default 'server' on a NATS bus, 'sender' on the in-memory bus
   */
  beatFencing?: BeatFencing;
  clock?: Clock;
  logger?: Logger;
  /** Metrics registry (a new one by default). */
  registry?: Registry;
  /** Instrumentation hook: called after each frame is published (benchmarks, tests). */
  onPublished?: (e: {
    beatIndex: number;
    phaseIndex: number;
    scheduledAt: number;
    firedAt: number;
    publishedAt: number;
  }) => void;
}

/** Options after defaults and checks. */
export interface ResolvedPulseOptions {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly bpm: number;
  readonly barLength: number;
  readonly phases: readonly Phase[];
  readonly minBpm: number;
  readonly maxBpm: number;
  readonly leaseTtlMs: number | undefined;
  readonly maxClockOffsetMs: number;
  readonly kvOutageGraceMs: number;
  readonly leaseMarkers: boolean;
  readonly replicas: ReplicaSetting;
  readonly streamPlacement: StreamPlacementMode;
  readonly elector: 'kv' | 'single' | LeaderElector;
  readonly staleAfterMs: number | undefined;
  readonly precise: boolean;
  readonly emitterNats: NatsConfig | undefined;
  readonly beatFencing: BeatFencing | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry | undefined;
  readonly onPublished: PulseOptions['onPublished'];
}

/** TTL of a new lease bucket when no `leaseTtlMs` is given. */
export const DEFAULT_LEASE_TTL_MS = 2000;
/** Default of `maxClockOffsetMs` (`--max-clock-offset`). */
export const DEFAULT_MAX_CLOCK_OFFSET_MS = 20;

/**
 * Maps phase names, accepting the pulse seed's `work` for execute (docs/spec.md §11 Choices made
 * where the sources disagreed).
 */
export function normalizePhases(names: readonly string[]): Phase[] {
  return names.map((raw) => {
    const name = raw.trim();
    const phase = PHASE_ALIASES[name] ?? name;
    if (!isPhase(phase))
      throw new InvalidArgumentError('phases', `'${name}' is not one of plan, execute (or work), review`);
    return phase;
  });
}

/**
 * Applies defaults and checks every option but the bus (so a CLI can check flags before it
 * connects).
 * @throws InvalidArgumentError naming the option and its rule
 */
export function resolvePulseOptions(o: Omit<PulseOptions, 'bus'>): ResolvedPulseOptions {
  const clusterId = o.clusterId ?? DEFAULT_CLUSTER_ID;
  assertClusterId(clusterId);
  const minBpm = o.minBpm ?? 4;
  const maxBpm = o.maxBpm ?? 24;
  const bpm = o.bpm ?? 12;
  if (!(minBpm >= CONTRACT_MIN_BPM && minBpm <= maxBpm && maxBpm <= CONTRACT_MAX_BPM)) {
    throw new InvalidArgumentError(
      'min-bpm/max-bpm',
      `need ${CONTRACT_MIN_BPM} <= min-bpm <= max-bpm <= ${CONTRACT_MAX_BPM}, got ${minBpm} and ${maxBpm}`,
    );
  }
  if (!(bpm >= minBpm && bpm <= maxBpm)) {
    const lift = bpm > maxBpm ? `set --max-bpm to ${bpm} or more` : `set --min-bpm to ${bpm} or less`;
    throw new InvalidArgumentError('bpm', `must be from ${minBpm} to ${maxBpm}, got ${bpm}: ${lift} to lift the limit`);
  }
  const barLength = o.barLength ?? DEFAULT_BAR_LENGTH;
  if (!Number.isSafeInteger(barLength) || barLength < 1 || barLength > 10_000)
    throw new InvalidArgumentError('bar', `must be an integer from 1 to 10000, got ${barLength}`);
  const phases = normalizePhases(o.phases ?? PHASES);
  const leaseTtlMs = o.leaseTtlMs;
  if (leaseTtlMs !== undefined && (!Number.isFinite(leaseTtlMs) || leaseTtlMs < 500 || leaseTtlMs > 600_000))
    throw new InvalidArgumentError('lease-ttl', `must be from 500 to 600000 ms, got ${leaseTtlMs}`);
  const maxClockOffsetMs = o.maxClockOffsetMs ?? DEFAULT_MAX_CLOCK_OFFSET_MS;
  if (!(maxClockOffsetMs > 0))
    throw new InvalidArgumentError(
      'max-clock-offset',
      `must be a number of ms > 0 (Infinity: no check), got ${maxClockOffsetMs}`,
    );
  const kvOutageGraceMs = o.kvOutageGraceMs ?? DEFAULT_KV_OUTAGE_GRACE_MS;
  if (!Number.isFinite(kvOutageGraceMs) || kvOutageGraceMs < 0 || kvOutageGraceMs > 600_000)
    throw new InvalidArgumentError('kv-outage-grace', `must be from 0 to 600000 ms, got ${kvOutageGraceMs}`);
  const streamPlacement = o.streamPlacement ?? 'away-from-leader';
  if (!STREAM_PLACEMENT_MODES.includes(streamPlacement)) {
    const got = String(streamPlacement);
    throw new InvalidArgumentError('stream-placement', `must be 'off' or 'away-from-leader', got '${got}'`);
  }
  const beatFencing = o.beatFencing;
  if (beatFencing !== undefined && beatFencing !== 'server' && beatFencing !== 'sender') {
    throw new InvalidArgumentError('beat-fencing', `must be 'server' or 'sender', got '${String(beatFencing)}'`);
  }
  const nodeId = o.nodeId || `pulse-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId))
    throw new InvalidArgumentError('node-id', `'${nodeId}' must be 1 to 64 of letters, digits, '.', '_' or '-'`);
  return Object.freeze({
    clusterId,
    nodeId,
    bpm,
    barLength,
    phases,
    minBpm,
    maxBpm,
    leaseTtlMs,
    maxClockOffsetMs,
    kvOutageGraceMs,
    leaseMarkers: o.leaseMarkers ?? true,
    replicas: checkReplicaSetting(o.replicas ?? 'auto'),
    streamPlacement,
    elector: o.elector ?? 'kv',
    staleAfterMs: o.staleAfterMs,
    precise: o.precise ?? true,
    emitterNats: o.emitterNats,
    beatFencing,
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
    registry: o.registry,
    onPublished: o.onPublished,
  });
}
