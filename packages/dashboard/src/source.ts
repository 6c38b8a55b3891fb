/** What the dashboard needs from the process that hosts it (`backbeat dev` or reverb). */
import type { BarReport } from '@backbeat/contracts';

/** One (beat, phase) as the host followed it. */
export interface DashboardBeat {
  readonly beat_index: number;
  readonly phase: string;
  readonly phases: readonly string[];
  readonly bar_length: number;
  readonly downbeat: boolean;
  readonly tempo_bpm: number;
  readonly window_id: string;
  readonly source: 'leader' | 'local';
  /** Receive time minus scheduled time, ms. */
  readonly delivery_ms: number;
  /** Publish time (from the frame's HLC, 1 ms resolution) minus scheduled time, ms. */
  readonly jitter_ms: number | null;
}

/** A pulse node or reverb replica. */
export interface DashboardNode {
  readonly kind: 'pulse' | 'reverb';
  readonly node_id: string;
  /** 'leader', 'follower' or 'replica'. */
  readonly role: string;
  readonly is_leader: boolean;
  /** One line of what the node says of itself (last renewal, last report, address ...). */
  readonly detail: string;
  /** When the node last announced itself (RFC 3339). */
  readonly updated_at: string | null;
}

/** A NATS server. */
export interface DashboardServer {
  readonly name: string;
  /** The server this host is connected to. */
  readonly connected: boolean;
  readonly version?: string;
  readonly url?: string;
}

/** One leadership: who led from when, in which term. */
export interface DashboardLeadership {
  readonly term: number;
  readonly leader: string;
  /** RFC 3339. */
  readonly since: string;
}

/** A message reverb refused (`backbeat.C.dlq`). */
export interface DashboardDeadLetter {
  readonly time: string;
  readonly reason: string;
  readonly error: string;
  readonly agent_id: string | null;
  readonly payload: string;
}

/** Leader and tempo, as shared state says, and the cluster's parts. */
export interface DashboardCluster {
  readonly cluster_id: string;
  readonly leader: string | null;
  readonly term: number | null;
  /** When the current leadership began (RFC 3339). */
  readonly leader_since: string | null;
  readonly tempo_bpm: number | null;
  readonly pending_bpm: number | null;
  readonly pending_at: string | null;
  readonly bar_length: number | null;
  /** True when this host can take tempo changes. */
  readonly tempo_changes: boolean;
  /** True when this host offers the failover demo (`backbeat dev --pulse-nodes 2` or more). */
  readonly failover: boolean;
  readonly nodes: readonly DashboardNode[];
  readonly servers: readonly DashboardServer[];
  /** Leaderships seen, newest first. */
  readonly leader_changes: readonly DashboardLeadership[];
}

/** What the page paints before the first live event. */
export interface DashboardRecent {
  /** The last (beat, phase) followed, or null before the first. */
  readonly beat: DashboardBeat | null;
  /** Recent delivery latencies (ms), oldest first. */
  readonly delivery: readonly number[];
  /** Recent publish jitters (ms), oldest first. */
  readonly jitter: readonly number[];
}

/** The current bar: each agent's state at each beat. */
export interface DashboardBar {
  readonly window_id: string;
  readonly from_beat: number;
  readonly to_beat: number;
  readonly agents: Readonly<Record<string, { last: string; by_beat: ReadonlyArray<string | null> }>>;
}

/** The answer to a tempo change, passed through to the browser. */
export interface TempoAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Events and reads the dashboard uses. Each `on*` returns its unsubscribe function. */
export interface DashboardSource {
  readonly clusterId: string;
  onBeat(cb: (b: DashboardBeat) => void): () => void;
  onReport(cb: (r: BarReport) => void): () => void;
  /** The current bar changed (a claim was counted). */
  onBarChange(cb: () => void): () => void;
  currentBar(): DashboardBar | null;
  /** The last beat and recent latency samples, for the first paint. */
  recent(): DashboardRecent;
  recentReports(limit: number): Promise<BarReport[]>;
  onDeadLetter(cb: (d: DashboardDeadLetter) => void): () => void;
  /** The last dead letters, oldest first. */
  recentDeadLetters(limit: number): Promise<DashboardDeadLetter[]>;
  cluster(): Promise<DashboardCluster>;
  /**
   * Applies a tempo change. The host's guard has checked the request (token, Origin, Host);
   * the browser's credentials are not passed on.
   */
  changeTempo(body: unknown): Promise<TempoAnswer>;
}
