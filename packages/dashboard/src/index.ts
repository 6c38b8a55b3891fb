/**
 * @backbeat/dashboard: the live BACKBEAT page, as routes on a fastify app.
 *
 * ```ts
 * registerDashboard(app, source); // GET / and /api/v1/events (server-sent events)
 * ```
 */
export { registerDashboard } from './plugin.js';
export type { DashboardOptions } from './plugin.js';
export { LIVE_STREAM_LIMITS } from './live-streams.js';
export type { LiveStreamLimits } from './live-streams.js';
export type {
  DashboardSource,
  DashboardBeat,
  DashboardCluster,
  DashboardBar,
  DashboardNode,
  DashboardServer,
  DashboardLeadership,
  DashboardDeadLetter,
  DashboardRecent,
  TempoAnswer,
} from './source.js';
