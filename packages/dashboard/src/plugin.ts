/**
 * The dashboard as routes on a fastify app: the page and its assets (all served locally, no
 * CDN), a snapshot, a server-sent-events stream of live changes, and the tempo form's POST.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { DashboardSource } from './source.js';

const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/dashboard/app.js': 'app.js',
  '/dashboard/style.css': 'style.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** Adds the dashboard routes to `app`. */
export function registerDashboard(app: FastifyInstance, source: DashboardSource): void {
  const files = new Map(Object.entries(ASSETS).map(([route, file]) => [route, readFileSync(new URL(`../public/${file}`, import.meta.url))]));
  for (const [route, file] of Object.entries(ASSETS)) {
    app.get(route, async (_req, reply) => reply.type(TYPES[file.split('.').pop()!]!).header('cache-control', 'no-cache').send(files.get(route)));
  }

  // The first paint: everything the page shows, so nothing is blank until the first event.
  app.get('/api/v1/dashboard', async () => ({
    cluster: await source.cluster().catch(() => null),
    bar: source.currentBar(),
    ...source.recent(),
    reports: await source.recentReports(12),
    dead_letters: await source.recentDeadLetters(20),
  }));

  app.post('/api/v1/tempo', async (req, reply) => {
    const answer = await source.changeTempo(req.body, req.headers.authorization);
    return reply.code(answer.status).send(answer.body);
  });

  app.get('/api/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let barQueued = false;
    const offs = [
      source.onBeat((b) => {
        send('beat', b);
        if (b.phase === b.phases[0]) void source.cluster().then((c) => send('cluster', c), () => {});
      }),
      source.onReport((r) => send('report', r)),
      source.onDeadLetter((d) => send('deadletter', d)),
      source.onBarChange(() => {
        // Coalesce: one bar update per 100 ms however many claims arrive.
        if (barQueued) return;
        barQueued = true;
        setTimeout(() => {
          barQueued = false;
          send('bar', source.currentBar());
        }, 100);
      }),
    ];
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    send('hello', { cluster_id: source.clusterId });
    req.raw.on('close', () => {
      clearInterval(ping);
      for (const off of offs) off();
    });
  });
}
