/**
 * The pulse admin API (fastify): tempo, drift, leader, health probes and metrics. Changing
 * the tempo needs the bearer token when one is configured; without a token the CLI binds the
 * API to 127.0.0.1 only (SPEC 10).
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BackbeatError, TempoChangeError, httpError } from '@backbeat/core';
import type { Pulse } from './pulse.js';

/** Options of {@link buildAdminApp}. */
export interface AdminOptions {
  /** Bearer token required by POST /tempo. Unset: no auth, loopback only. */
  token?: string;
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

/** True when an Authorization header value is `Bearer <token>` (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** True when the request carries `Authorization: Bearer <token>`. */
export function hasBearer(req: FastifyRequest, token: string): boolean {
  return bearerMatches(req.headers.authorization, token);
}

/** Replies with a JSON error body {error, message, ...}. */
export function sendError(reply: FastifyReply, status: number, error: string, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).send({ error, message, ...extra });
}

/** The HTTP answer to a tempo change: a status and a JSON body. */
export interface TempoChangeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * Handles one tempo change request as `POST /tempo` does (BACKBEAT-REQ-004), for any server
 * that offers it (the admin API, `backbeat dev`): 401 without the bearer token when one is
 * set, 400 for a bad body or a refused change (rule and field named), 503 when the cluster
 * state cannot be written, 202 with the pending change when accepted.
 */
export async function tempoChangeAnswer(pulse: Pulse, body: unknown, authorization: string | undefined, token: string | undefined): Promise<TempoChangeAnswer> {
  if (token && !bearerMatches(authorization, token)) {
    return httpError('BB_ERR_UNAUTHORIZED', 'a valid bearer token is required to change the tempo');
  }
  const b = body as { tempo_bpm?: unknown; justification?: unknown } | null;
  if (typeof b !== 'object' || b === null || typeof b.tempo_bpm !== 'number') return httpError('BB_ERR_BAD_REQUEST', 'body.tempo_bpm must be a number');
  if (b.justification !== undefined && (typeof b.justification !== 'string' || b.justification.length > 1024)) {
    return httpError('BB_ERR_BAD_REQUEST', 'body.justification must be a string of at most 1024 characters');
  }
  try {
    const accepted = await pulse.requestTempoChange({ tempo_bpm: b.tempo_bpm, justification: b.justification });
    return { status: 202, body: { accepted: true, pending: accepted } };
  } catch (err) {
    if (err instanceof TempoChangeError) return { status: 400, body: { error: err.code, message: err.message, rule: err.context.rule, field: err.context.field } };
    if (err instanceof BackbeatError) return { status: 503, body: { error: err.code, message: err.message } };
    throw err;
  }
}

/** Builds the admin app (not listening yet). */
export function buildAdminApp(pulse: Pulse, options: AdminOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number; code?: string }, _req, reply) => {
    if (err.validation) return sendError(reply, 400, 'BB_ERR_BAD_REQUEST', err.message.replace(/^body\/?/, 'body: '));
    if (err.statusCode && err.statusCode < 500) return sendError(reply, err.statusCode, err.code ?? 'BB_ERR_BAD_REQUEST', err.message);
    return sendError(reply, 500, 'BB_ERR_INTERNAL', 'internal error');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'BB_ERR_NOT_FOUND', `no route ${req.method} ${req.url}`));

  app.get('/tempo', async () => pulse.tempoStatus());

  app.post('/tempo', { schema: { body: tempoBody } }, async (req, reply) => {
    const answer = await tempoChangeAnswer(pulse, req.body, req.headers.authorization, options.token);
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
  app.get('/live', async (_req, reply) => reply.code(pulse.state === 'stopped' ? 503 : 200).send({ live: pulse.state !== 'stopped' }));
  app.get('/metrics', async (_req, reply) => {
    const r = pulse.metrics.registry;
    return reply.type(r.contentType).send(await r.metrics());
  });
  return app;
}
