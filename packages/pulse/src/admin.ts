/**
 * The pulse admin API (fastify): tempo, drift, leader, health probes and metrics. Every request
 * passes the guard of docs/spec.md §10 Security (Admin tokens and network exposure) before its
 * body is read: changing the tempo needs the bearer token when one is configured; without a
 * token the CLI binds the API to loopback only and the guard answers loopback `Host`s only.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import {
  BackbeatError,
  TempoChangeError,
  errorAnswer,
  guardHook,
  httpError,
  httpServerOptions,
  sendHttpError,
  type HttpLimits,
} from '@backbeat/core';
import type { Pulse } from './pulse.js';

/** Options of {@link buildAdminApp}. */
export interface AdminOptions {
  /** Bearer token required by POST /tempo. Unset: no auth, loopback only. */
  token?: string;
  /** Time and size limits (tests shorten them). @default HTTP_LIMITS of @backbeat/core */
  limits?: Partial<HttpLimits>;
}

const tempoBody = {
  type: 'object',
  additionalProperties: false,
  required: ['tempo_bpm'],
  properties: {
    tempo_bpm: { type: 'number' },
    justification: { type: 'string', maxLength: 1024 },
  },
} as const;

/** The HTTP answer to a tempo change: a status and a JSON body. */
export interface TempoChangeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * Handles one tempo change request as `POST /tempo` does (BACKBEAT-REQ-004), for any server
 * that offers it (the admin API, `backbeat dev`; their guard has checked the token): 400 for
 * a bad body or a refused change (rule and field named), 503 when the cluster state cannot be
 * written, 202 with the pending change when accepted.
 */
export async function tempoChangeAnswer(pulse: Pulse, body: unknown): Promise<TempoChangeAnswer> {
  const b = body as { tempo_bpm?: unknown; justification?: unknown } | null;
  if (typeof b !== 'object' || b === null || typeof b.tempo_bpm !== 'number')
    return httpError('BB_ERR_BAD_REQUEST', 'body.tempo_bpm must be a number');
  if (b.justification !== undefined && (typeof b.justification !== 'string' || b.justification.length > 1024)) {
    return httpError('BB_ERR_BAD_REQUEST', 'body.justification must be a string of at most 1024 characters');
  }
  try {
    const accepted = await pulse.requestTempoChange({ tempo_bpm: b.tempo_bpm, justification: b.justification });
    return { status: 202, body: { accepted: true, pending: accepted } };
  } catch (err) {
    if (err instanceof TempoChangeError)
      return {
        status: 400,
        body: { error: err.code, message: err.message, rule: err.context.rule, field: err.context.field },
      };
    if (err instanceof BackbeatError) return { status: 503, body: { error: err.code, message: err.message } };
    throw err;
  }
}

/** Builds the admin app (not listening yet). */
export function buildAdminApp(pulse: Pulse, options: AdminOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    ...httpServerOptions(options.limits),
  });
  app.addHook('onRequest', guardHook({ token: options.token }));
  app.setErrorHandler((err, _req, reply) => sendHttpError(reply, errorAnswer(err as Error)));
  app.setNotFoundHandler((req, reply) =>
    sendHttpError(reply, httpError('BB_ERR_NOT_FOUND', `no route ${req.method} ${req.url}`)),
  );

  app.get('/tempo', async () => pulse.tempoStatus());

  app.post('/tempo', { schema: { body: tempoBody } }, async (req, reply) => {
    const answer = await tempoChangeAnswer(pulse, req.body);
    return reply.code(answer.status).send(answer.body);
  });

  app.get('/drift', async () => pulse.driftReport());
  app.get('/leader', async () => pulse.leaderStatus());
  app.get('/health', async () => {
    const drift = pulse.driftReport();
    return {
      status: pulse.isReady() ? 'healthy' : 'degraded',
      service: 'backbeat-pulse',
      state: pulse.state,
      ...pulse.leaderStatus(),
      nats_connected: pulse.options.bus.status().connected,
      degradation_mode: pulse.isDegraded(),
      published: pulse.publishedCount,
      clock_offset_ms: drift.clock_offset_ms,
      clock_offset_state: drift.clock_offset_state,
      max_clock_offset_ms: drift.max_clock_offset_ms,
    };
  });
  app.get('/ready', async (_req, reply) => {
    const r = pulse.readiness();
    return reply.code(r.ready ? 200 : 503).send(r);
  });
  app.get('/live', async (_req, reply) =>
    reply.code(pulse.state === 'stopped' ? 503 : 200).send({ live: pulse.state !== 'stopped' }),
  );
  app.get('/metrics', async (_req, reply) => {
    const r = pulse.metrics.registry;
    return reply.type(r.contentType).send(await r.metrics());
  });
  return app;
}
