/**
 * Which elector a pulse node runs, built from its options: one it was given, the single-node
 * elector, or the KV lease (the default). For the lease it opens the lease bucket, checks the
 * bucket's TTL against `--lease-ttl` (the TTL that expires the lease is the bucket's, docs/spec.md
 * §7 Election, terms and fencing and §12 Known pitfalls), starts the clock check, and opens the
 * lease and state buckets a second time with a short request timeout, so a KV outage and its end
 * show at once (docs/decisions/0002-kv-outage-grace.md). With the lease comes the stream placement
 * that keeps the lease's streams led away from this node's server (docs/spec.md §7 Election, terms and fencing).
 */
import { clusterNames, openLeaseBucket, retryTransient, type KvBucket, type ReplicaOptions } from '@backbeat/transport';
import type { SlotKey } from '@backbeat/core';
import { LeaseTtlMismatchError } from '../errors.js';
import type { GatedKey } from '../kv-gate.js';
import { DEFAULT_LEASE_TTL_MS, type PulseOptions, type ResolvedPulseOptions } from '../options.js';
import type { SharedFence } from '../emit/shared-fence.js';
import { ClockCheck } from './clock-check.js';
import { KvLeaseElector } from './kv-lease-elector.js';
import type { LeaderElector } from './leader-elector.js';
import { leaseRequestTimeoutMs } from './outage.js';
import { SingleNodeElector } from './single-node-elector.js';
import { openStreamPlacement, type StreamPlacement } from './stream-placement.js';

/** What {@link openElector} needs from the pulse. */
export interface OpenElectorInput {
  readonly options: ResolvedPulseOptions & { readonly bus: PulseOptions['bus'] };
  /** Replica count (and mismatch handler) for the lease bucket. */
  readonly replicas: ReplicaOptions;
  /** The publish deadline the emitter obeys: opened while this node may publish. */
  readonly fence: SharedFence;
  /** The last (beat, phase) known to be on the wire. */
  readonly lastSlot: () => SlotKey | undefined;
  /** Called for each refused (malformed) lease or term value. */
  readonly onRefused: (key: GatedKey) => void;
  /** Called for each stream leader this node asks to step down (stream placement). */
  readonly onStepDown: (stream: string, reason: string) => void;
}

/** The elector and what came with it. */
export interface OpenedElector {
  readonly elector: LeaderElector;
  /** The clock check (KV lease on NATS with a finite --max-clock-offset only). */
  readonly clockCheck: ClockCheck | undefined;
  /** The lease bucket's TTL (null without a KV lease). */
  readonly leaseTtlMs: number | null;
  /** Keeps the beat-critical streams' leaders placed while this node leads (KV lease, replicated buckets). */
  readonly placement?: StreamPlacement | undefined;
}

/**
 * Builds the elector the options name.
 * @throws LeaseTtlMismatchError when the lease bucket's TTL is not `leaseTtlMs`
 */
export async function openElector(i: OpenElectorInput): Promise<OpenedElector> {
  const { bus, clusterId, nodeId, clock, logger, elector, leaseTtlMs, maxClockOffsetMs, kvOutageGraceMs } = i.options;
  if (elector === 'single') {
    const single = new SingleNodeElector(nodeId);
    single.onChange((l) => (l.isLeader ? i.fence.open(Infinity, l.term) : i.fence.close()));
    return { elector: single, clockCheck: undefined, leaseTtlMs: null };
  }
  if (elector !== 'kv') return { elector, clockCheck: undefined, leaseTtlMs: null };
  const bucket = clusterNames(clusterId).leaseBucket;
  const wanted = leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const leaseKv = await retryTransient(
    () => openLeaseBucket(bus, clusterId, { ttlMs: wanted, markers: i.options.leaseMarkers, ...i.replicas }),
    { what: 'opening the lease bucket', clock, logger },
  );
  const { ttlMs } = await leaseKv.settings();
  if (ttlMs <= 0 || (leaseTtlMs !== undefined && ttlMs !== leaseTtlMs))
    throw new LeaseTtlMismatchError(bucket, ttlMs, wanted);
  let clockCheck: ClockCheck | undefined;
  if (bus.kind === 'nats' && Number.isFinite(maxClockOffsetMs)) {
    clockCheck = new ClockCheck({ kv: leaseKv, nodeId, clock, logger, maxOffsetMs: maxClockOffsetMs });
    await clockCheck.start();
  }
  const timeoutMs = leaseRequestTimeoutMs(ttlMs);
  const fast = (name: string): Promise<KvBucket> =>
    // Lease reads take the first answer of the stream leader and any copy: either path can be cut off alone.
    retryTransient(() => bus.kv(name, { create: false, timeoutMs, reads: 'first-answer' }), {
      what: `opening ${name}`,
      clock,
      logger,
    });
  const lease = new KvLeaseElector(await fast(bucket), nodeId, {
    state: await fast(clusterNames(clusterId).stateBucket),
    ttlMs,
    kvOutageGraceMs,
    // A lease not renewed in time is taken by compare-and-set where clock offsets are bounded:
    // by the clock check on NATS, by construction on the in-memory bus (one process, one clock).
    clockOffsetBoundMs: clockCheck ? maxClockOffsetMs : bus.kind === 'memory' ? 0 : undefined,
    clock,
    logger,
    refusal: () => clockCheck?.refusal() ?? null,
    beatStoredAt: (term) => i.fence.beatStoredAt(term),
    lastSlot: i.lastSlot,
    onDeadline: (validUntil, term, quorumUntil, quorumSentAt) =>
      validUntil > 0 ? i.fence.open(validUntil, term, quorumUntil, quorumSentAt) : i.fence.close(),
    onRefused: (key) => i.onRefused(key),
  });
  const placement = openStreamPlacement({
    options: i.options,
    replicas: i.replicas.replicas ?? 1,
    leaseTtlMs: ttlMs,
    leadership: () => lease.leadership(),
    onStepDown: i.onStepDown,
  });
  return { elector: lease, clockCheck, leaseTtlMs: ttlMs, placement };
}
