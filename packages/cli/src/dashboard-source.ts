/** Feeds the dashboard from a reverb replica and the cluster's shared state. */
import { bearerHeader, httpError, parseHlc } from '@backbeat/core';
import type {
  DashboardBar,
  DashboardBeat,
  DashboardCluster,
  DashboardDeadLetter,
  DashboardLeadership,
  DashboardNode,
  DashboardSource,
  TempoAnswer,
} from '@backbeat/dashboard';
import type { Pulse } from '@backbeat/pulse';
import type { Reverb } from '@backbeat/reverb';
import type { Bus } from '@backbeat/transport';
import { readClusterStatus, type ClusterStatus, type NodeView } from './cluster-status.js';
import { followDeadLetters, readDeadLetters, type DeadLetter } from './dead-letters.js';

/**
 * How the host applies a tempo change, or undefined when it cannot. The host's guard has
 * checked the browser's request; the browser's credentials are never passed on.
 */
export type TempoChanger = (body: unknown) => Promise<TempoAnswer>;

/** What `backbeat dev` adds to the dashboard. */
export interface DevExtras {
  /** Offer the failover button. */
  readonly failover: boolean;
  /** The pulse nodes running in this process (shown even before they announce themselves). */
  readonly localPulses: () => readonly Pulse[];
}

const SAMPLES = 300;
const LETTERS = 50;
const CLUSTER_CACHE_MS = 1000;

/**
 * A DashboardSource over a reverb. It does no I/O until asked, so the host can bind its port
 * before it touches the cluster; beat and dead-letter events flow once `started` resolves.
 */
export function reverbDashboardSource(
  reverb: Reverb,
  bus: Bus,
  started: Promise<void>,
  changeTempo?: TempoChanger,
  dev?: DevExtras,
): DashboardSource {
  const clusterId = reverb.options.clusterId;
  const beats = new Set<(b: DashboardBeat) => void>();
  const letterListeners = new Set<(d: DashboardDeadLetter) => void>();
  const recent = { beat: null as DashboardBeat | null, delivery: [] as number[], jitter: [] as number[] };
  const letters: DashboardDeadLetter[] = [];
  const push = <T>(list: T[], v: T, max: number) => {
    list.push(v);
    if (list.length > max) list.shift();
  };
  const timeline: DashboardLeadership[] = [];
  let cached: { at: number; value: Promise<DashboardCluster> } | undefined;

  started.then(
    async () => {
      reverb.onPhase((frame, info) => {
        const b: DashboardBeat = {
          beat_index: frame.beat_index,
          phase: frame.phase,
          phases: frame.phases ?? ['plan', 'execute', 'review'],
          bar_length: frame.bar_length ?? reverb.barLength,
          downbeat: frame.downbeat,
          tempo_bpm: frame.tempo_bpm,
          window_id: frame.window_id,
          // reverb follows in frames timing; a grid slot counts as local here
          source: info.source === 'leader' ? 'leader' : 'local',
          delivery_ms: info.receivedAt - info.scheduledAt,
          jitter_ms: info.source === 'leader' ? parseHlc(frame.hlc).physical - Math.floor(info.scheduledAt) : null,
        };
        recent.beat = b;
        if (b.source === 'leader') {
          push(recent.delivery, b.delivery_ms, SAMPLES);
          if (b.jitter_ms !== null) push(recent.jitter, b.jitter_ms, SAMPLES);
        }
        for (const l of beats) l(b);
      });
      const stored = await readDeadLetters(bus, clusterId, LETTERS).catch(() => null);
      for (const d of stored ?? []) push(letters, short(d), LETTERS);
      followDeadLetters(bus, clusterId, (d) => {
        push(letters, short(d), LETTERS);
        for (const l of letterListeners) l(short(d));
      });
    },
    () => {},
  );

  const readCluster = async (): Promise<DashboardCluster> => {
    const s = await readClusterStatus(bus, clusterId, 'this bus');
    if (s.leader && timeline[0]?.term !== s.leader.term) {
      timeline.unshift({ term: s.leader.term, leader: s.leader.node_id, since: s.leader.since });
      timeline.splice(20);
    }
    return {
      cluster_id: clusterId,
      leader: s.leader?.node_id ?? null,
      term: s.leader?.term ?? null,
      leader_since: timeline.find((t) => t.term === s.leader?.term)?.since ?? null,
      tempo_bpm: s.tempo.bpm,
      pending_bpm: s.tempo.pending?.tempo_bpm ?? null,
      pending_at: s.tempo.pending?.effective_at ?? null,
      bar_length: s.tempo.bar_length,
      tempo_changes: changeTempo !== undefined,
      failover: dev?.failover ?? false,
      nodes: nodesOf(s, reverb, dev),
      servers: s.servers,
      leader_changes: [...timeline],
    };
  };

  return {
    clusterId,
    onBeat: (cb) => {
      beats.add(cb);
      return () => beats.delete(cb);
    },
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
    recent: () => ({ beat: recent.beat, delivery: [...recent.delivery], jitter: [...recent.jitter] }),
    recentReports: (limit) => reverb.history(undefined, limit).catch(() => []),
    onDeadLetter: (cb) => {
      letterListeners.add(cb);
      return () => letterListeners.delete(cb);
    },
    recentDeadLetters: async (limit) => letters.slice(-limit),
    cluster: () => {
      const now = Date.now();
      if (!cached || now - cached.at > CLUSTER_CACHE_MS) {
        const value = readCluster();
        value.catch(() => (cached = undefined));
        cached = { at: now, value };
      }
      return cached.value;
    },
    changeTempo:
      changeTempo ??
      (async () =>
        httpError(
          'BB_ERR_NOT_AVAILABLE',
          'this server does not take tempo changes (start reverb with --pulse-admin URL)',
        )),
  };
}

function short(d: DeadLetter): DashboardDeadLetter {
  return { time: d.time, reason: d.reason, error: d.error, agent_id: d.agent_id, payload: d.payload };
}

/** Presence entries, plus this process's own pulse nodes and reverb when they have not announced themselves. */
function nodesOf(s: ClusterStatus, reverb: Reverb, dev: DevExtras | undefined): DashboardNode[] {
  const leader = s.leader?.node_id ?? null;
  const out = [...s.pulse_nodes, ...s.reverb_replicas].map((n) => nodeOf(n, leader));
  for (const p of dev?.localPulses() ?? []) {
    const id = p.options.nodeId;
    if (out.some((n) => n.kind === 'pulse' && n.node_id === id)) continue;
    const l = p.leaderStatus();
    out.push({
      kind: 'pulse',
      node_id: id,
      role: l.is_leader ? 'leader' : 'follower',
      is_leader: id === leader,
      detail: `term ${l.term || '–'}, in this process`,
      updated_at: null,
    });
  }
  if (!out.some((n) => n.kind === 'reverb' && n.node_id === reverb.options.nodeId)) {
    out.push({
      kind: 'reverb',
      node_id: reverb.options.nodeId,
      role: 'replica',
      is_leader: false,
      detail: 'serving this page',
      updated_at: null,
    });
  }
  return out.sort((a, b) =>
    a.kind === b.kind ? a.node_id.localeCompare(b.node_id, undefined, { numeric: true }) : a.kind === 'pulse' ? -1 : 1,
  );
}

function nodeOf(n: NodeView, leader: string | null): DashboardNode {
  const facts = Object.entries(n.info)
    // The consumer name is reverb_<node id> (see `backbeat reverb --list-consumers`): not repeated here.
    .filter(([k, v]) => k !== 'role' && k !== 'consumer' && v !== null && v !== undefined && typeof v !== 'object')
    .map(
      ([k, v]) => `${k.replace(/_/g, ' ')} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`,
    );
  return {
    kind: n.kind,
    node_id: n.node_id,
    role: n.role,
    is_leader: n.node_id === leader,
    detail: [`${n.host} pid ${n.pid}`, ...facts].join(', '),
    updated_at: n.updated_at,
  };
}

/**
 * Forwards tempo changes to a pulse admin API with this host's own `pulseToken` (its bearer
 * token check applies); the browser's Authorization header, if any, is never forwarded.
 */
export function proxyTempoTo(adminUrl: string, pulseToken?: string): TempoChanger {
  return async (body) => {
    try {
      const r = await fetch(new URL('/tempo', adminUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearerHeader(pulseToken) },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(5000),
      });
      return { status: r.status, body: await r.json().catch(() => ({})) };
    } catch (err) {
      return httpError(
        'BB_ERR_PULSE_UNREACHABLE',
        `pulse admin API at ${adminUrl} did not answer: ${(err as Error).message}`,
      );
    }
  };
}
