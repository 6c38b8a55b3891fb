/** Feeds the dashboard from a reverb replica and the cluster's shared state. */
import { parseHlc, tempoAt } from '@backbeat/core';
import type { DashboardBar, DashboardSource, TempoAnswer } from '@backbeat/dashboard';
import type { Reverb } from '@backbeat/reverb';
import { clusterNames, decodeJson, openStateBucket, STATE_KEYS, type Bus, type KvBucket } from '@backbeat/transport';

/** How the host applies a tempo change, or undefined when it cannot. */
export type TempoChanger = (body: unknown, authorization: string | undefined) => Promise<TempoAnswer>;

/** A DashboardSource over a running reverb. */
export async function reverbDashboardSource(reverb: Reverb, bus: Bus, changeTempo?: TempoChanger): Promise<DashboardSource> {
  const clusterId = reverb.options.clusterId;
  const state = await openStateBucket(bus, clusterId);
  let lease: KvBucket | undefined;
  const leaseBucket = async () => (lease ??= await bus.kv(clusterNames(clusterId).leaseBucket));
  return {
    clusterId,
    onBeat: (cb) =>
      reverb.onPhase((frame, info) =>
        cb({
          beat_index: frame.beat_index,
          phase: frame.phase,
          phases: frame.phases ?? ['plan', 'execute', 'review'],
          bar_length: frame.bar_length ?? reverb.barLength,
          downbeat: frame.downbeat,
          tempo_bpm: frame.tempo_bpm,
          window_id: frame.window_id,
          source: info.source === 'leader' ? 'leader' : 'local', // reverb follows in frames timing; a grid slot counts as local here
          delivery_ms: info.receivedAt - info.scheduledAt,
          jitter_ms: info.source === 'leader' ? parseHlc(frame.hlc).physical - Math.floor(info.scheduledAt) : null,
        }),
      ),
    onReport: (cb) => reverb.onReport(cb),
    onBarChange: (cb) => reverb.onClaim(() => cb()),
    currentBar: () => {
      const beat = reverb.currentBeat;
      if (beat < 0) return null;
      const from = beat - (beat % reverb.barLength);
      const w = reverb.windows().find((x) => x.fromBeat === from);
      if (!w) return { window_id: '', from_beat: from, to_beat: from + reverb.barLength - 1, agents: {} };
      return w.summary(true) as unknown as DashboardBar;
    },
    recentReports: (limit) => reverb.history(undefined, limit).catch(() => []),
    cluster: async () => {
      const [leader, pending] = await Promise.all([
        leaseBucket().then((b) => b.get(STATE_KEYS.leader)).catch(() => null),
        state.get(STATE_KEYS.tempoPending).catch(() => null),
      ]);
      const l = leader ? decodeJson<{ node_id: string; term?: number }>(leader.value) : null;
      const p = pending ? decodeJson<{ tempo_bpm: number; effective_at?: string }>(pending.value) : null;
      const map = reverb.tempoMap;
      return {
        cluster_id: clusterId,
        leader: l?.node_id ?? null,
        term: l ? (l.term ?? leader!.revision) : null,
        tempo_bpm: map ? tempoAt(map, Date.now()) : null,
        pending_bpm: p?.tempo_bpm ?? null,
        pending_at: p?.effective_at ?? null,
        bar_length: map?.barLength ?? null,
        tempo_changes: changeTempo !== undefined,
      };
    },
    changeTempo: changeTempo ?? (async () => ({ status: 501, body: { error: 'BB_ERR_NOT_AVAILABLE', message: 'this server does not take tempo changes (start reverb with --pulse-admin URL)' } })),
  };
}

/** Forwards tempo changes to a pulse admin API (its bearer token check applies). */
export function proxyTempoTo(adminUrl: string): TempoChanger {
  return async (body, authorization) => {
    try {
      const r = await fetch(new URL('/tempo', adminUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(5000),
      });
      return { status: r.status, body: await r.json().catch(() => ({})) };
    } catch (err) {
      return { status: 502, body: { error: 'BB_ERR_PULSE_UNREACHABLE', message: `pulse admin API at ${adminUrl} did not answer: ${(err as Error).message}` } };
    }
  };
}
