/**
 * The dashboard as routes on a fastify app: the page and its assets (all served locally, no
 * CDN), a snapshot for the first paint, live updates (long-poll for the page, server-sent
 * events for other clients) and the tempo form's POST. The host app's guard (docs/spec.md §10
 * Security) checks every request; pages carry a Content-Security-Policy that forbids framing.
 */
import { readFileSync } from 'node:fs';
import { PAGE_SECURITY_HEADERS, httpError, sendHttpError } from '@backbeat/core';
import type { FastifyInstance } from 'fastify';
import { clip } from './clip.js';
import { answerJson, UpdateHub } from './hub.js';
import { LiveStreams, LIVE_STREAM_LIMITS, type LiveStreamLimits } from './live-streams.js';
import type { DashboardSource } from './source.js';

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/dashboard/app.js': 'app.js',
  '/dashboard/view.js': 'view.js',
  '/dashboard/style.css': 'style.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
/** Longest a poll waits for an event before it answers with none. */
const HOLD_MS = 300;

/** Options of {@link registerDashboard}. */
export interface DashboardOptions {
  /** Bounds of the `/api/v1/events` streams. @default LIVE_STREAM_LIMITS */
  readonly streams?: LiveStreamLimits;
}

/** Adds the dashboard routes to `app`. */
export function registerDashboard(app: FastifyInstance, source: DashboardSource, options: DashboardOptions = {}): void {
  const files = new Map(
    Object.entries(ASSETS).map(([route, file]) => [route, readFileSync(new URL(`../public/${file}`, import.meta.url))]),
  );
  for (const [route, file] of Object.entries(ASSETS)) {
    app.get(route, async (_req, reply) =>
      reply
        .type(TYPES[file.split('.').pop()!]!)
        .headers(PAGE_SECURITY_HEADERS)
        .header('cache-control', 'no-cache')
        .send(files.get(route)),
    );
  }
  const hub = new UpdateHub(source);
  const limits = options.streams ?? LIVE_STREAM_LIMITS;
  const streams = new LiveStreams(hub, limits);
  app.addHook('onClose', async () => {
    streams.close();
    hub.close();
  });

  // The first paint: everything the page shows, so nothing is blank until the first event.
  // Clipped like the events: agent ids, reasons and payloads come from outside.
  app.get('/api/v1/dashboard', async () =>
    clip({
      seq: hub.seq,
      cluster: await source.cluster().catch(() => null),
      bar: source.currentBar(),
      ...source.recent(),
      reports: await source.recentReports(12),
      dead_letters: await source.recentDeadLetters(20),
    }),
  );

  let lastPage: { key: string; body: Buffer } | undefined;
  app.get<{ Querystring: { after?: string } }>('/api/v1/updates', async (req, reply) => {
    const after = Number(req.query.after ?? '0');
    if (!Number.isSafeInteger(after) || after < 0)
      return sendHttpError(reply, httpError('BB_ERR_BAD_REQUEST', 'query.after must be an integer >= 0'));
    // One bounded page, joined from events serialised when they arrived; pollers asking the
    // same question of the same buffer (many pages open, or a hostile loop) share one body.
    const answer = await hub.poll(after, HOLD_MS);
    const key = `${after}:${answer.seq}:${hub.seq}:${answer.reset}`;
    if (lastPage?.key !== key) lastPage = { key, body: Buffer.from(answerJson(answer)) };
    return reply.type('application/json; charset=utf-8').send(lastPage.body);
  });

  app.post('/api/v1/tempo', async (req, reply) => {
    const answer = await source.changeTempo(req.body);
    return reply.code(answer.status).send(answer.body);
  });

  // Server-sent events, for clients that keep a stream open (curl, other tools).
  // Bounded: backpressure pauses a stream, a stream too far behind is closed, and the number
  // of streams is capped (live-streams.ts).
  app.get('/api/v1/events', (req, reply) => {
    if (!streams.admit())
      return sendHttpError(
        reply,
        httpError('BB_ERR_UNAVAILABLE', `${limits.maxStreams} live streams are open and keep up: try again later`),
      );
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`event: hello\ndata: ${JSON.stringify({ cluster_id: source.clusterId })}\n\n`);
    streams.add(res);
    const ping = setInterval(() => {
      if (res.writableLength === 0) res.write(': ping\n\n');
    }, 15_000);
    req.raw.on('close', () => clearInterval(ping));
  });
}
