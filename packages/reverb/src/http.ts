/**
 * Reverb's HTTP API (fastify): probes, metrics, windows, status and report history. Every
 * request passes the shared guard of docs/spec.md §10 Security before its body is read:
 * requests that change state need the admin token when one is configured; without one the
 * server answers loopback `Host`s only and takes JSON state changes from its own origin only.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  errorAnswer,
  guardHook,
  httpError,
  httpServerOptions,
  sendHttpError,
  type Clock,
  type HttpLimits,
} from '@backbeat/core';
import type { Reverb } from './reverb.js';

/** Options of {@link buildReverbApp}. */
export interface ReverbAppOptions {
  /** Bearer token every state-changing request must carry (401 without it). */
  adminToken?: string;
  /** @default the reverb's clock */
  clock?: Clock;
  /** Time and size limits (tests shorten them). @default HTTP_LIMITS of @backbeat/core */
  limits?: Partial<HttpLimits>;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** Builds the app (not listening yet). */
export function buildReverbApp(reverb: Reverb, options: ReverbAppOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false, ...httpServerOptions(options.limits) });
  const clock = options.clock ?? reverb.options.clock;
  const iso = () => new Date(clock.wallNow()).toISOString();
  app.addHook('onRequest', guardHook({ token: options.adminToken }));
  app.setErrorHandler((err, _req, reply) => sendHttpError(reply, errorAnswer(err as Error)));
  app.setNotFoundHandler((req, reply) =>
    sendHttpError(reply, httpError('BB_ERR_NOT_FOUND', `no route ${req.method} ${req.url}`)),
  );

  app.get('/health', async () => ({
    status: reverb.isReady() ? 'healthy' : 'degraded',
    service: 'backbeat-reverb',
    cluster_id: reverb.options.clusterId,
    node_id: reverb.options.nodeId,
    state: reverb.state,
    timestamp: iso(),
  }));
  app.get('/ready', async (_req, reply) => {
    const connected = reverb.options.bus.status().connected;
    const ready = reverb.isReady();
    return reply
      .code(ready ? 200 : 503)
      .send({ ready, nats_connected: connected, ...(connected ? {} : { reason: 'NATS connection lost' }) });
  });
  app.get('/live', async () => ({ live: true }));
  app.get('/metrics', async (_req, reply) =>
    reply.type(reverb.metrics.registry.contentType).send(await reverb.metrics.registry.metrics()),
  );

  app.get('/api/v1/windows', async () => {
    const windows = reverb.windows().map((w) => w.summary());
    return { windows, total_count: windows.length };
  });
  app.get<{ Params: { id: string } }>('/api/v1/windows/:id', async (req, reply) => {
    const w = reverb.window(req.params.id);
    if (!w)
      return sendHttpError(
        reply,
        httpError('BB_ERR_NOT_FOUND', `no window '${req.params.id}' is held (unknown or evicted)`, {
          window_id: req.params.id,
        }),
      );
    return w.summary(true);
  });
  app.get('/api/v1/status', async () => ({
    service: 'backbeat-reverb',
    cluster_id: reverb.options.clusterId,
    node_id: reverb.options.nodeId,
    state: reverb.state,
    active_windows: reverb.windows().length,
    current_beat: reverb.currentBeat,
    bar_length: reverb.barLength,
    signatures: reverb.options.signatures,
    window_ttl_seconds: reverb.options.windowTtlMs / 1000,
    max_windows_retained: reverb.options.maxWindows,
    nats_connected: reverb.options.bus.status().connected,
    started_at: new Date(reverb.startedAt).toISOString(),
    uptime_seconds: Math.round((clock.wallNow() - reverb.startedAt) / 100) / 10,
    version: VERSION,
    consumer: reverb.consumer,
    timestamp: iso(),
  }));
  app.get<{ Querystring: { from_beat?: string; limit?: string; cursor?: string } }>(
    '/api/v1/reports',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from_beat: { type: 'string', pattern: '^[0-9]{1,15}$' },
            limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
            cursor: { type: 'string', pattern: '^[0-9]{1,15}$' },
          },
        },
      },
    },
    async (req, reply) => {
      const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100)));
      const fromBeat = req.query.from_beat === undefined ? undefined : Number(req.query.from_beat);
      try {
        const page = await reverb.reports({ fromBeat, limit, cursor: req.query.cursor });
        return { reports: page.reports, count: page.reports.length, next_cursor: page.nextCursor ?? null };
      } catch (err) {
        return sendHttpError(
          reply,
          httpError('BB_ERR_UNAVAILABLE', `report history unavailable: ${(err as Error).message}`),
        );
      }
    },
  );
  return app;
}
