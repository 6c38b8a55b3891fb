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

/** Leader and tempo, as shared state says. */
export interface DashboardCluster {
  readonly cluster_id: string;
  readonly leader: string | null;
  readonly term: number | null;
  readonly tempo_bpm: number | null;
  readonly pending_bpm: number | null;
  readonly pending_at: string | null;
  readonly bar_length: number | null;
  /** True when this host can take tempo changes. */
  readonly tempo_changes: boolean;
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
  recentReports(limit: number): Promise<BarReport[]>;
  cluster(): Promise<DashboardCluster>;
  /** Applies a tempo change; `authorization` is the browser's header, passed on. */
  changeTempo(body: unknown, authorization: string | undefined): Promise<TempoAnswer>;
}
