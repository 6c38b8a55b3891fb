/**
 * The dashboard as routes on a fastify app: the page and its assets (all served locally, no
 * CDN), a snapshot for the first paint, live updates (long-poll for the page, server-sent
 * events for other clients) and the tempo form's POST.
 */
import { readFileSync } from 'node:fs';
import { httpError, sendHttpError } from '@backbeat/core';
import type { FastifyInstance } from 'fastify';
import { UpdateHub } from './hub.js';
import type { DashboardSource } from './source.js';

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/dashboard/app.js': 'app.js',
  '/dashboard/style.css': 'style.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
/** Longest a poll waits for an event before it answers with none. */
const HOLD_MS = 300;

/** Adds the dashboard routes to `app`. */
export function registerDashboard(app: FastifyInstance, source: DashboardSource): void {
  const files = new Map(Object.entries(ASSETS).map(([route, file]) => [route, readFileSync(new URL(`../public/${file}`, import.meta.url))]));
  for (const [route, file] of Object.entries(ASSETS)) {
    app.get(route, async (_req, reply) => reply.type(TYPES[file.split('.').pop()!]!).header('cache-control', 'no-cache').send(files.get(route)));
  }
  const hub = new UpdateHub(source);
  app.addHook('onClose', async () => hub.close());

  // The first paint: everything the page shows, so nothing is blank until the first event.
  app.get('/api/v1/dashboard', async () => ({
    seq: hub.seq,
    cluster: await source.cluster().catch(() => null),
    bar: source.currentBar(),
    ...source.recent(),
    reports: await source.recentReports(12),
    dead_letters: await source.recentDeadLetters(20),
  }));

  app.get<{ Querystring: { after?: string } }>('/api/v1/updates', async (req, reply) => {
    const after = Number(req.query.after ?? '0');
    if (!Number.isSafeInteger(after) || after < 0) return sendHttpError(reply, httpError('BB_ERR_BAD_REQUEST', 'query.after must be an integer >= 0'));
    return hub.poll(after, HOLD_MS);
  });

  app.post('/api/v1/tempo', async (req, reply) => {
    const answer = await source.changeTempo(req.body, req.headers.authorization);
    return reply.code(answer.status).send(answer.body);
  });

  // Server-sent events, for clients that keep a stream open (curl, other tools).
  app.get('/api/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let last = hub.seq;
    const flush = () => {
      const { events } = hub.since(last);
      for (const e of events) res.write(`id: ${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      last = hub.seq;
    };
    const off = hub.listen(flush);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    res.write(`event: hello\ndata: ${JSON.stringify({ cluster_id: source.clusterId })}\n\n`);
    req.raw.on('close', () => {
      clearInterval(ping);
      off();
    });
  });
}
