/**
 * The browser and slow-client attacks of docs/spec.md §10 Security, performed against real
 * servers: the pulse admin API and reverb's HTTP API (with the dashboard and its tempo proxy)
 * listening on loopback over a real nats-server, and a `backbeat dev` process. Each attack is
 * sent as the client that would try it: a browser page on another site (cross-origin
 * text/plain POST), a DNS-rebinding page (foreign `Host`), and a slow client on a raw socket.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDashboard } from '@backbeat/dashboard';
import { buildAdminApp, Pulse } from '@backbeat/pulse';
import { buildReverbApp, Reverb, TrustStore } from '@backbeat/reverb';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import type { FastifyInstance } from 'fastify';
import { proxyTempoTo, reverbDashboardSource } from '../src/dashboard-source.js';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const PULSE_TOKEN = 'pulse-token-0123456789';
const REVERB_TOKEN = 'reverb-token-0123456789';
/** Short limits, so a slow client is cut off within the test's time. */
const LIMITS = { requestTimeoutMs: 1000, headersTimeoutMs: 1000, checkIntervalMs: 100 };

const nats = useNatsFixture();
let pulse: Pulse;
let reverb: Reverb;
const apps: FastifyInstance[] = [];
let pulseOpen: string; // tokenless pulse admin API
let pulseTok: string; // pulse admin API with PULSE_TOKEN
let reverbOpen: string; // tokenless reverb, tempo form forwarded to pulseTok with PULSE_TOKEN
let reverbTok: string; // reverb with REVERB_TOKEN, tempo form forwarded to pulseTok with PULSE_TOKEN
let dev: ManagedProcess | undefined;
let devUrl: string;

async function listen(app: FastifyInstance): Promise<string> {
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

function reverbApp(adminToken: string | undefined): FastifyInstance {
  const app = buildReverbApp(reverb, { adminToken, limits: LIMITS });
  registerDashboard(
    app,
    reverbDashboardSource(reverb, nats.bus, new Promise(() => {}), proxyTempoTo(pulseTok, PULSE_TOKEN)),
  );
  return app;
}

beforeAll(async () => {
  pulse = new Pulse({
    bus: nats.bus,
    clusterId: 'attack',
    nodeId: 'p1',
    bpm: 60,
    barLength: 2,
    minBpm: 30,
    maxBpm: 120,
  });
  pulseOpen = await listen(buildAdminApp(pulse, { limits: LIMITS }));
  pulseTok = await listen(buildAdminApp(pulse, { token: PULSE_TOKEN, limits: LIMITS }));
  await pulse.start();
  await waitFor(() => pulse.leaderStatus().is_leader && pulse.tempoStatus().current_bpm === 60, {
    message: 'a leading pulse with a map',
  });
  // Reverb is built, not started: its HTTP API and the dashboard's tempo proxy need no stream.
  reverb = new Reverb({
    bus: nats.bus,
    clusterId: 'attack',
    nodeId: 'r1',
    signatures: 'off',
    trust: TrustStore.parse('{"agents":{}}'),
  });
  reverbOpen = await listen(reverbApp(undefined));
  reverbTok = await listen(reverbApp(REVERB_TOKEN));
  dev = ManagedProcess.node(bin, ['dev', '--port', '0', '--agents', '1', '--pulse-nodes', '2'], {
    env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' },
  });
  devUrl = (await dev.waitForOutput(/dashboard at (http:\/\/127\.0\.0\.1:\d+)\//, 40_000))[1]!;
}, 60_000);

afterAll(async () => {
  await dev?.stop();
  for (const a of apps) await a.close();
  await pulse?.stop();
});

interface Answer {
  status: number;
  body: Record<string, any>;
}

/** One request with exactly these headers (Host and Origin included), as a browser or curl sends it. */
function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const r = request(
      { host: u.hostname, port: u.port, method, path: u.pathname, headers: { host: u.host, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, any>) : {} }),
        );
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/** A browser on another site posting a "simple" request: text/plain, its own Origin, no preflight. */
const crossSite = (base: string, path: string, body: string) =>
  send(base, 'POST', path, { origin: 'http://attacker.example', 'content-type': 'text/plain;charset=UTF-8' }, body);
/** A DNS-rebinding page: the attacker's name resolves to 127.0.0.1, so Host and Origin are the attacker's. */
const rebound = (base: string, path: string, body: string) => {
  const host = `rebind.attacker.example:${new URL(base).port}`;
  return send(base, 'POST', path, { host, origin: `http://${host}`, 'content-type': 'application/json' }, body);
};

/**
 * A slow client on a raw socket: sends `head` (the request line and headers, announcing a
 * 1000-byte body), then a few body bytes, and never the rest. Resolves with what the server
 * answered and when the server closed the connection (ms after the headers were sent).
 */
function slowBody(base: string, head: string, trickle: boolean): Promise<{ reply: string; closedAfterMs: number }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let reply = '';
    let sentAt = 0;
    let drip: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      sock.destroy();
      reject(new Error('the server kept a slow body open for 10 s'));
    }, 10_000);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => (reply += c));
    sock.on('error', () => {}); // a reset after the server cut the connection: 'close' follows
    sock.on('close', () => {
      clearTimeout(bound);
      clearInterval(drip);
      resolve({ reply, closedAfterMs: Date.now() - sentAt });
    });
    sock.on('connect', () => {
      sock.write(`${head}\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
      sentAt = Date.now();
      if (trickle) drip = setInterval(() => sock.writable && sock.write(' '), 100);
    });
  });
}

const tempoBody = JSON.stringify({ tempo_bpm: 62, justification: 'attack' });

describe('pulse admin API - browser attacks on a tokenless server', () => {
  it('pulse - a tempo change with a foreign Host (DNS rebinding) is refused 403 and changes nothing', async () => {
    const r = await rebound(pulseOpen, '/tempo', tempoBody);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({
      error: 'BB_ERR_FORBIDDEN',
      message: expect.stringMatching(/not a loopback name or address/),
    });
    expect(pulse.tempoStatus().pending_bpm ?? null).toBeNull();
  });

  it(
    'pulse - a cross-origin text/plain POST is refused 403; the ' + 'same without Origin 415; nothing changes',
    async () => {
      expect((await crossSite(pulseOpen, '/tempo', tempoBody)).status).toBe(403);
      const plain = await send(pulseOpen, 'POST', '/tempo', { 'content-type': 'text/plain' }, tempoBody);
      expect(plain.status).toBe(415);
      expect(plain.body.error).toBe('BB_ERR_UNSUPPORTED_MEDIA_TYPE');
      expect(pulse.tempoStatus().pending_bpm ?? null).toBeNull();
    },
  );

  it('pulse - reads from a loopback Host still work', async () => {
    const r = await send(pulseOpen, 'GET', '/tempo', {});
    expect(r.status).toBe(200);
    expect(r.body.current_bpm).toBe(60);
  });
});

describe('pulse admin API - slow and large bodies', () => {
  it('pulse - a request without the token is refused 401 before its body is read (the body never comes)', async () => {
    const r = await slowBody(pulseTok, 'POST /tempo HTTP/1.1', false);
    expect(r.reply).toMatch(/^HTTP\/1\.1 401 /);
    expect(r.reply).toMatch(/BB_ERR_UNAUTHORIZED/);
    expect(r.closedAfterMs).toBeLessThan(LIMITS.requestTimeoutMs);
  });

  it('pulse - an authorized body that trickles in is cut off at the request timeout', async () => {
    const r = await slowBody(pulseTok, `POST /tempo HTTP/1.1\r\nAuthorization: Bearer ${PULSE_TOKEN}`, true);
    expect(r.reply === '' || /^HTTP\/1\.1 408 /.test(r.reply)).toBe(true);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 100);
    expect(r.closedAfterMs).toBeLessThan(LIMITS.requestTimeoutMs + 3000);
    expect(pulse.tempoStatus().pending_bpm ?? null).toBeNull();
  });

  it('pulse - headers that never end (slowloris) are cut off at the header timeout', async () => {
    const u = new URL(pulseTok);
    const closedAfterMs = await new Promise<number>((resolve, reject) => {
      const sock = connect(Number(u.port), u.hostname);
      const t0 = Date.now();
      let drip: NodeJS.Timeout | undefined;
      const bound = setTimeout(
        () => (sock.destroy(), reject(new Error('the server kept unfinished headers open for 10 s'))),
        10_000,
      );
      sock.on('error', () => {});
      sock.on('close', () => {
        clearTimeout(bound);
        clearInterval(drip);
        resolve(Date.now() - t0);
      });
      sock.on('connect', () => {
        sock.write(`GET /tempo HTTP/1.1\r\nHost: ${u.host}\r\n`);
        let n = 0;
        drip = setInterval(() => sock.writable && sock.write(`X-Slow-${n++}: 1\r\n`), 100);
      });
    });
    expect(closedAfterMs).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 100);
    expect(closedAfterMs).toBeLessThan(LIMITS.headersTimeoutMs + 3000);
  });

  it('pulse - a body over 64 KiB is refused 413 with a registered code', async () => {
    const big = JSON.stringify({ tempo_bpm: 62, justification: 'x'.repeat(70 * 1024) });
    const r = await send(
      pulseTok,
      'POST',
      '/tempo',
      { authorization: `Bearer ${PULSE_TOKEN}`, 'content-type': 'application/json' },
      big,
    );
    expect(r.status).toBe(413);
    expect(r.body.error).toBe('BB_ERR_BODY_TOO_LARGE');
  });
});

describe('reverb HTTP API - browser and slow-client attacks', () => {
  it('reverb - a tempo change with a foreign Host is refused 403 and never reaches the pulse', async () => {
    const r = await rebound(reverbOpen, '/api/v1/tempo', tempoBody);
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('BB_ERR_FORBIDDEN');
    expect((await crossSite(reverbOpen, '/api/v1/tempo', tempoBody)).status).toBe(403);
    expect(pulse.tempoStatus().pending_bpm ?? null).toBeNull();
  });

  it('reverb - a request without the token is refused 401 before its body is read', async () => {
    const r = await slowBody(reverbTok, 'POST /api/v1/tempo HTTP/1.1', false);
    expect(r.reply).toMatch(/^HTTP\/1\.1 401 /);
    expect(r.closedAfterMs).toBeLessThan(LIMITS.requestTimeoutMs);
  });

  it('reverb - an authorized body that trickles in is cut off at the request timeout', async () => {
    const r = await slowBody(reverbTok, `POST /api/v1/tempo HTTP/1.1\r\nAuthorization: Bearer ${REVERB_TOKEN}`, true);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 100);
    expect(r.closedAfterMs).toBeLessThan(LIMITS.requestTimeoutMs + 3000);
  });

  it(
    "reverb - the tempo form needs reverb's own token (the pulse's is " +
      'refused) and reverb sends its own pulse token on',
    async () => {
      const withPulses = await send(
        reverbTok,
        'POST',
        '/api/v1/tempo',
        { authorization: `Bearer ${PULSE_TOKEN}`, 'content-type': 'application/json' },
        tempoBody,
      );
      expect(withPulses.status).toBe(401);
      expect(pulse.tempoStatus().pending_bpm ?? null).toBeNull();
      // The browser holds only reverb's token; the pulse takes only its own: a 202 shows reverb
      // forwarded with its configured pulse token, not the browser's header.
      const ok = await send(
        reverbTok,
        'POST',
        '/api/v1/tempo',
        { authorization: `Bearer ${REVERB_TOKEN}`, 'content-type': 'application/json' },
        tempoBody,
      );
      expect(ok.status).toBe(202);
      expect(pulse.tempoStatus().pending_bpm).toBe(62);
    },
  );
});

describe('backbeat dev - browser attacks on the tokenless dev server', () => {
  const leaderOf = async () =>
    (await send(devUrl, 'GET', '/api/v1/dashboard', {})).body.cluster as {
      leader: string | null;
      term: number | null;
    } | null;

  it('dev - a cross-origin text/plain POST to the failover route is refused 403 and nothing fails over', async () => {
    const before = await waitFor(async () => ((await leaderOf())?.leader ? await leaderOf() : null), {
      timeoutMs: 15_000,
      message: 'a dev leader',
    });
    const r = await crossSite(devUrl, '/api/v1/dev/failover', '{}');
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('BB_ERR_FORBIDDEN');
    const plain = await send(devUrl, 'POST', '/api/v1/dev/failover', { 'content-type': 'text/plain' }, '{}');
    expect(plain.status).toBe(415);
    // A failover would stop the leader at once and hand the lease over within about a second.
    await new Promise((ok) => setTimeout(ok, 1500));
    const after = await leaderOf();
    expect(after).toMatchObject({ leader: before!.leader, term: before!.term });
  });

  it('dev - a tempo change with a foreign Host is refused 403', async () => {
    const r = await rebound(devUrl, '/api/v1/tempo', tempoBody);
    expect(r.status).toBe(403);
    const page = await send(devUrl, 'GET', '/api/v1/dashboard', {});
    expect(page.body.cluster?.pending_bpm ?? null).toBeNull();
  });

  it('dev - the page forbids framing: CSP frame-ancestors none and X-Frame-Options DENY', async () => {
    const res = await fetch(devUrl);
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });
});
