/**
 * Reads what the SDK trusts from the cluster's KV (docs/spec.md §3 Subjects and shared state and §7
 * Election, terms and fencing), read-only: the tempo map (state bucket, key `tempo-map`, checked
 * with checkTempoMap) and the leader lease (lease bucket, key `leader`, checked with
 * decodeLeaseRecord). Buckets are opened with `create: false`: agents never create or change
 * JetStream state (docs/decisions/0005-agents-read-only.md).
 *
 * When KV cannot be read: a missing lease bucket means a single-node pulse (no election),
 * so the lease is `absent` and terms are not fenced; a lease or map that cannot be read
 * (permissions, a bad value) keeps the last good one, or, with none, leaves the gate with
 * no term fencing (`unreadable`) and a grid learned from frames. Each case is reported in
 * health, and the buckets are tried again every {@link RETRY_MS}.
 */
import { checkTempoMap, type Clock, type TimerHandle } from '@backbeat/core';
import {
  clusterNames,
  decodeJson,
  decodeLeaseRecord,
  JetStreamNotFoundError,
  STATE_KEYS,
  type Bus,
  type KvBucket,
} from '@backbeat/transport';
import type { FrameGate } from './frame-gate.js';

/** Wait before opening a bucket again after it was missing or unreadable. */
export const RETRY_MS = 5000;
/**
 * How long a read of the lease or the tempo map waits. Short: on a cluster that has just started,
 * the replicas of a new bucket may not answer a direct get yet, and the read is tried again.
 */
const KV_TIMEOUT_MS = 1000;
/** Shortest interval between two re-reads asked for by the gate. */
const REFRESH_MS = 200;

/** A running watch; stop() ends it. */
export interface ClusterWatch {
  /** Settles when both buckets were tried once (opened, or found missing or unreadable). */
  readonly ready: Promise<void>;
  /** Re-reads the lease or the map now (at most every 200 ms each). */
  refresh(what: 'lease' | 'map'): void;
  stop(): void;
}

/** Watches the lease and the tempo map of `clusterId` and feeds `gate`. */
export function watchCluster(
  bus: Bus,
  clusterId: string,
  gate: FrameGate,
  clock: Clock,
  report: (message: string) => void,
): ClusterWatch {
  const names = clusterNames(clusterId);
  let stopped = false;
  const timers = new Set<TimerHandle>();
  const stops: Array<() => void> = [];
  const buckets: { lease?: KvBucket; state?: KvBucket } = {};
  const lastRefresh = { lease: -Infinity, map: -Infinity };
  let leaseGood = false;

  const later = (fn: () => void, ms = RETRY_MS) => {
    const t = clock.setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  const onMap = (value: Uint8Array) => {
    try {
      gate.setMap(checkTempoMap(decodeJson(value)));
    } catch (err) {
      report(`tempo map in KV refused, the last good one stays: ${(err as Error).message}`);
    }
  };
  const onLease = (value: Uint8Array | null) => {
    if (value === null) return gate.setLease({ state: 'absent', reason: 'no node holds the lease' });
    try {
      const r = decodeLeaseRecord(value);
      leaseGood = true;
      gate.setLease({ state: 'held', term: r.term, nodeId: r.node_id });
    } catch (err) {
      // A record without a term can be a pulse mid-write: keep the last good lease.
      report(`lease value refused: ${(err as Error).message}`);
      if (!leaseGood) gate.setLease({ state: 'unreadable', reason: (err as Error).message });
    }
  };

  const openState = async () => {
    try {
      const kv = await bus.kv(names.stateBucket, { create: false, timeoutMs: KV_TIMEOUT_MS });
      const w = await kv.watch(STATE_KEYS.tempoMap, (e) => e.operation === 'put' && onMap(e.value));
      if (stopped) return w.stop();
      buckets.state = kv;
      stops.push(() => w.stop());
    } catch (err) {
      if (stopped) return;
      const why =
        err instanceof JetStreamNotFoundError ? 'no state bucket yet (no pulse started)' : (err as Error).message;
      report(`tempo map not readable (${why}): the grid is learned from frames; retrying`);
      later(() => void openState());
    }
  };
  /** A key that was never written gives its watch no event: only a read tells that no node holds the lease. */
  const checkAbsent = async (kv: KvBucket): Promise<void> => {
    try {
      const e = await kv.get(STATE_KEYS.leader);
      if (!e && !stopped) onLease(null);
    } catch (err) {
      // The watch runs; only the read is tried again (a fresh replica may not answer yet).
      if (stopped) return;
      report(`reading the lease failed (${(err as Error).message}); retrying`);
      later(() => void checkAbsent(kv), KV_TIMEOUT_MS);
    }
  };
  const openLease = async () => {
    try {
      const kv = await bus.kv(names.leaseBucket, { create: false, timeoutMs: KV_TIMEOUT_MS });
      const w = await kv.watch(STATE_KEYS.leader, (e) => onLease(e.operation === 'put' ? e.value : null));
      if (stopped) return w.stop();
      buckets.lease = kv;
      stops.push(() => w.stop());
      await checkAbsent(kv);
    } catch (err) {
      if (stopped) return;
      if (err instanceof JetStreamNotFoundError)
        gate.setLease({ state: 'absent', reason: 'no lease bucket (a single-node pulse): terms are not fenced' });
      else {
        report(
          `lease not readable (${(err as Error).message}): terms are not fenced, ` +
            'frames are checked against the grid only; retrying',
        );
        if (!leaseGood) gate.setLease({ state: 'unreadable', reason: (err as Error).message });
      }
      later(() => void openLease());
    }
  };

  return {
    ready: Promise.all([openState(), openLease()]).then(() => undefined),
    refresh(what: 'lease' | 'map') {
      const now = clock.now();
      if (stopped || now - lastRefresh[what] < REFRESH_MS) return;
      lastRefresh[what] = now;
      const kv = what === 'lease' ? buckets.lease : buckets.state;
      if (!kv) return;
      kv.get(what === 'lease' ? STATE_KEYS.leader : STATE_KEYS.tempoMap).then(
        (e) => {
          if (stopped) return;
          if (what === 'lease') onLease(e?.value ?? null);
          else if (e) onMap(e.value);
        },
        (err: unknown) => report(`re-reading the ${what} failed: ${(err as Error).message}`),
      );
    },
    stop() {
      stopped = true;
      for (const t of timers) clock.clearTimeout(t);
      for (const s of stops.splice(0)) s();
    },
  };
}
