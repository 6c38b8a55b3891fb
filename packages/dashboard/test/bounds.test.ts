/**
 * The dashboard under abuse (docs/spec.md §10 Security): what any login that can publish puts
 * in an event (a 60 KB `x-agent-id`, a long reason) is clipped, the event buffer has a byte
 * bound, a poll answers one bounded page, and the live stream respects backpressure and caps
 * its connections, closing the slowest. Served by a real fastify server on loopback, read by
 * raw sockets that behave as the hostile clients would.
 */
import { connect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { DashboardCluster, DashboardDeadLetter, DashboardSource } from '../src/index.js';
import { registerDashboard } from '../src/index.js';
import { HUB_BUFFER_BYTES, HUB_PAGE_BYTES, UpdateHub } from '../src/hub.js';
import { MAX_STRING } from '../src/clip.js';
import type { LiveStreamLimits } from '../src/live-streams.js';

/** A source whose dead letters the test fires by hand. */
function handSource() {
  const letters = new Set<(d: DashboardDeadLetter) => void>();
  const source: DashboardSource = {
    clusterId: 'c',
    onBeat: () => () => {},
    onReport: () => () => {},
    onBarChange: () => () => {},
    onDeadLetter: (cb) => (letters.add(cb), () => letters.delete(cb)),
    currentBar: () => null,
    recent: () => ({ beat: null, delivery: [], jitter: [] }),
    recentReports: async () => [],
    recentDeadLetters: async () => [],
    cluster: async () => ({ cluster_id: 'c' }) as unknown as DashboardCluster,
    changeTempo: async () => ({ status: 501, body: {} }),
  };
  /** A dead letter as a hostile agent makes one: a 60 KB agent id, long error and payload. */
  const hostile = (i: number): DashboardDeadLetter => ({
    time: new Date().toISOString(),
    reason: `forged-${i}`,
    error: 'e'.repeat(10_000),
    agent_id: `agent:${'x'.repeat(60 * 1024)}`,
    payload: 'p'.repeat(10_000),
  });
  return {
    source,
    fire: (n: number) => {
      for (let i = 0; i < n; i++) letters.forEach((cb) => cb(hostile(i)));
    },
  };
}

let app: FastifyInstance | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

async function serve(source: DashboardSource, streams?: LiveStreamLimits): Promise<number> {
  app = Fastify({ logger: false });
  registerDashboard(app, source, streams ? { streams } : {});
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

/** Opens `/api/v1/events` on a raw socket; resolves once the response head has arrived. */
function openStream(port: number): Promise<{ sock: Socket; head: string; text: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    sockets.push(sock);
    let text = '';
    const closed = new Promise<void>((ok) => sock.on('close', () => ok()));
    sock.on('error', () => {});
    sock.setEncoding('utf8');
    sock.on('data', function first(c: string) {
      text += c;
      if (!text.includes('\r\n\r\n')) return;
      sock.off('data', first);
      sock.on('data', (more: string) => (text += more));
      resolve({ sock, head: text.slice(0, text.indexOf('\r\n')), text: () => text, closed });
    });
    sock.on('connect', () => sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    setTimeout(() => reject(new Error('no response head in 5 s')), 5000).unref();
  });
}

describe('dashboard - bounded under abuse', () => {
  it('hub - a 60 KB agent id and 10 KB fields are clipped; the buffer keeps at most its byte bound', () => {
    const s = handSource();
    const hub = new UpdateHub(s.source);
    s.fire(2000);
    expect(hub.bytes).toBeLessThanOrEqual(HUB_BUFFER_BYTES);
    const last = JSON.parse(hub.since(hub.seq - 1).events[0]!.json) as DashboardDeadLetter;
    expect(last.agent_id!.length).toBe(MAX_STRING);
    expect(last.agent_id!.endsWith('…')).toBe(true);
    expect(last.payload.length).toBe(MAX_STRING);
    hub.close();
  });

  it(
    'updates - a poll from 0 answers one bounded page; following its seq ' +
      'reaches every buffered event once, in order',
    async () => {
      const s = handSource();
      const port = await serve(s.source);
      s.fire(2000);
      let after = 0;
      const seen: number[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/updates?after=${after}`);
        const text = await r.text();
        expect(text.length).toBeLessThanOrEqual(HUB_PAGE_BYTES + 100);
        const u = JSON.parse(text) as { seq: number; events: Array<{ seq: number }>; more: boolean; reset: boolean };
        expect(u.reset).toBe(false);
        seen.push(...u.events.map((e) => e.seq));
        after = u.seq;
        if (!u.more) break;
      }
      expect(seen.at(-1)).toBe(2000);
      expect(seen.every((v, i) => i === 0 || v === seen[i - 1]! + 1)).toBe(true);
      expect(seen.length).toBeGreaterThan(100);
    },
  );

  it('events - a client that pauses reading gets every event after it resumes, in order, none twice', async () => {
    const s = handSource();
    const port = await serve(s.source);
    const c = await openStream(port);
    c.sock.pause();
    s.fire(300);
    await new Promise((ok) => setTimeout(ok, 200));
    c.sock.resume();
    const ids = () => [...c.text().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    for (let i = 0; i < 100 && ids().length < 300; i++) await new Promise((ok) => setTimeout(ok, 20));
    expect(ids()).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it(
    'events - a client that never reads is closed when it falls behind; at the ' +
      'cap the slowest makes room, else a newcomer is refused',
    async () => {
      const s = handSource();
      const port = await serve(s.source, { maxStreams: 1, maxQueuedBytes: 256 * 1024 });
      const stuck = await openStream(port);
      expect(stuck.head).toMatch(/ 200 /);
      stuck.sock.pause();
      // Far more than the socket buffers and the hub hold: the stream pauses, then falls out.
      s.fire(12_000);
      await new Promise((ok) => setTimeout(ok, 100));
      const fresh = await openStream(port);
      expect(fresh.head).toMatch(/ 200 /);
      stuck.sock.resume();
      await stuck.closed; // closed by the server, not by the test
      // The one stream keeps up: a third client is refused rather than closing it.
      const third = await new Promise<string>((resolve) => {
        const sock = connect(port, '127.0.0.1');
        sockets.push(sock);
        let t = '';
        sock.setEncoding('utf8');
        sock.on('data', (d: string) => (t += d));
        sock.on('close', () => resolve(t));
        sock.on('connect', () =>
          sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
        );
      });
      expect(third).toMatch(/^HTTP\/1\.1 503 /);
      expect(third).toMatch(/live streams are open and keep up/);
    },
  );

  it('page - served with a Content-Security-Policy that forbids framing, and X-Frame-Options DENY', async () => {
    const port = await serve(handSource().source);
    const r = await fetch(`http://127.0.0.1:${port}/`);
    expect(r.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
