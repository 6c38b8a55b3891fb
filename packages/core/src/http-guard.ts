/**
 * The one admin-HTTP guard every BACKBEAT server uses (pulse admin API, reverb, `backbeat dev`):
 * bearer parsing, loopback and Host checks, the browser rules for state-changing requests, and
 * the time and size limits of a server (docs/spec.md §10 Security). Pure functions of a
 * request's method and headers: the servers call {@link guardRequest} in an `onRequest` hook,
 * so a refused request is answered before its body is read.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { httpError, type HttpErrorBody } from './http-errors.js';

/** Methods that never change state. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The token of an `Authorization` header when it is `Bearer <token>`: the scheme in any case
 * (RFC 7235 section 2.1), one or more spaces or tabs, then a token with no whitespace.
 */
export function parseBearer(authorization: string | undefined): string | undefined {
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return m?.[1];
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when `authorization` is `Bearer <token>`; compared in constant time (lengths included). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = parseBearer(authorization);
  // Both sides are hashed first, so the comparison takes the same time whatever the lengths.
  return timingSafeEqual(digest(given ?? ''), digest(token)) && given !== undefined;
}

/**
 * The rule an admin token must follow, or undefined when `token` follows it: 1 to 4096
 * printable ASCII characters without spaces (what a `Bearer` header can carry).
 */
export function adminTokenProblem(token: string): string | undefined {
  if (token.length < 1 || token.length > 4096) return `must be 1 to 4096 characters long, got ${token.length}`;
  if (!/^[\x21-\x7e]+$/.test(token)) return 'must be printable ASCII without spaces';
  return undefined;
}

/** The `Authorization` header a client sends with an admin `token`; none without a token. */
export function bearerHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The host name of a `Host` header or a bind address: brackets and port removed, lower case. */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colons = h.split(':').length - 1;
  return colons === 1 ? h.slice(0, h.indexOf(':')) : h;
}

/** True for `localhost`, 127.0.0.0/8, `::1` and `::ffff:127.x.y.z`, with or without brackets and port. */
export function isLoopbackHost(host: string): boolean {
  const h = hostnameOf(host);
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Where a server may listen (docs/spec.md §10 Security): without an admin token, on a loopback
 * address only. Returns why `host` is refused, naming `server` (e.g. 'the admin API'), or
 * undefined when it may listen there.
 */
export function loopbackBindProblem(server: string, host: string, token: string | undefined): string | undefined {
  if (token || isLoopbackHost(host)) return undefined;
  return `without --admin-token ${server} listens on loopback only (127.0.0.1 or ::1), got '${host}'`;
}

/** What {@link guardRequest} reads of a request. */
export interface GuardRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** What {@link guardRequest} is told of the server. */
export interface GuardOptions {
  /** The admin token; unset: the server is loopback-bound and trusts its Host rule instead. */
  readonly token?: string;
}

/** A refused request: the status, the JSON body and any header to add. */
export interface GuardRefusal {
  readonly status: number;
  readonly body: HttpErrorBody;
  readonly headers: Readonly<Record<string, string>>;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const shown = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/**
 * Decides whether a request may go on, from its method and headers alone (before its body):
 * - without a token, only a `Host` that is a loopback name or address (DNS rebinding): 403;
 * - a state-changing method (not GET, HEAD, OPTIONS) with an `Origin` other than the served
 *   host (a cross-site form or fetch, or `Origin: null`): 403;
 * - with a token, a state-changing method needs `Authorization: Bearer <token>`: 401;
 * - without one, a state-changing method needs `Content-Type: application/json` (a browser
 *   sends no other cross-site request without asking first): 415.
 * Returns undefined when the request may go on.
 */
export function guardRequest(req: GuardRequest, options: GuardOptions): GuardRefusal | undefined {
  const host = one(req.headers.host) ?? '';
  const refuse = (e: { status: number; body: HttpErrorBody }, headers: Record<string, string> = {}) => ({
    ...e,
    headers,
  });
  if (!options.token && !isLoopbackHost(host)) {
    return refuse(
      httpError(
        'BB_ERR_FORBIDDEN',
        `Host ${shown(host)} is not a loopback name or address: without an admin token this ` +
          'server answers only requests for localhost, 127.0.0.1 or [::1]',
      ),
    );
  }
  if (SAFE_METHODS.has(req.method)) return undefined;
  const origin = one(req.headers.origin);
  if (origin !== undefined && !sameHost(origin, host)) {
    return refuse(
      httpError(
        'BB_ERR_FORBIDDEN',
        `Origin ${shown(origin)} is not this server (${shown(host)}): cross-site requests cannot change state`,
      ),
    );
  }
  if (options.token) {
    if (bearerMatches(one(req.headers.authorization), options.token)) return undefined;
    return refuse(
      httpError(
        'BB_ERR_UNAUTHORIZED',
        `${req.method} ${req.url.split('?')[0]} needs 'Authorization: Bearer <admin token>'`,
      ),
      { 'www-authenticate': 'Bearer' },
    );
  }
  const type = (one(req.headers['content-type']) ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return refuse(
      httpError(
        'BB_ERR_UNSUPPORTED_MEDIA_TYPE',
        `${req.method} ${req.url.split('?')[0]} takes Content-Type application/json only, got ${shown(type || 'none')}`,
      ),
    );
  }
  return undefined;
}

/** True when an `Origin` (scheme://host[:port]) names the same host and port as `Host`. */
function sameHost(origin: string, host: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}

/** The time and size limits of a BACKBEAT HTTP server. */
export interface HttpLimits {
  /** Longest a client may take to send a whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** Longest a client may take to send the request headers. */
  readonly headersTimeoutMs: number;
  /** A connection with nothing sent or received this long is closed. */
  readonly idleTimeoutMs: number;
  /** Longest an idle keep-alive connection is kept between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Largest request body. */
  readonly bodyLimitBytes: number;
  /** How often the server checks the request and header deadlines. */
  readonly checkIntervalMs: number;
}

/** The limits every BACKBEAT HTTP server uses unless a test asks for shorter ones. */
export const HTTP_LIMITS: HttpLimits = {
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  bodyLimitBytes: 64 * 1024,
  checkIntervalMs: 1_000,
};

/** Fastify server options that apply `limits` (Node's `headersTimeout` through `http`). */
export function httpServerOptions(limits: Partial<HttpLimits> = {}) {
  const l = { ...HTTP_LIMITS, ...limits };
  return {
    requestTimeout: l.requestTimeoutMs,
    connectionTimeout: l.idleTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    bodyLimit: l.bodyLimitBytes,
    http: {
      headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
      connectionsCheckingInterval: l.checkIntervalMs,
    },
  };
}

/** What {@link guardHook} answers on: a fastify reply, or anything shaped like one. */
export interface GuardReply {
  code(status: number): GuardReply;
  header(name: string, value: string): GuardReply;
  send(body: HttpErrorBody): unknown;
}

/**
 * An `onRequest` hook that applies {@link guardRequest}:
 * `app.addHook('onRequest', guardHook({ token }))`.
 */
export function guardHook(options: GuardOptions): (req: GuardRequest, reply: GuardReply) => Promise<unknown> {
  return async (req, reply) => {
    const refusal = guardRequest(req, options);
    if (!refusal) return undefined;
    let r = reply;
    for (const [k, v] of Object.entries(refusal.headers)) r = r.header(k, v);
    // 'connection: close': the body of a refused request is never read.
    return r.header('connection', 'close').code(refusal.status).send(refusal.body);
  };
}

/** The same reply headers on every page a browser may show: no framing, no sniffing. */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** What a server's error handler is given: a fastify error, or any thrown value. */
export interface ServerErrorLike {
  readonly message?: string;
  readonly statusCode?: number;
  readonly validation?: unknown;
}

/**
 * The one answer every BACKBEAT server gives for an error its routes or fastify raised: 400
 * naming the field for a schema or parse failure, 413 for a body over the limit, 415 for an
 * unsupported body type, 500 with no detail for anything else.
 */
export function errorAnswer(err: ServerErrorLike): { status: number; body: HttpErrorBody } {
  const status = err.statusCode ?? 500;
  const message = (err.message ?? '').replace(/^body\/?/, 'body: ');
  if (err.validation) return httpError('BB_ERR_BAD_REQUEST', message);
  if (status === 413)
    return httpError('BB_ERR_BODY_TOO_LARGE', `the request body is larger than the server takes (${message})`);
  if (status === 415) return httpError('BB_ERR_UNSUPPORTED_MEDIA_TYPE', message);
  if (status < 500) return { status, body: { error: 'BB_ERR_BAD_REQUEST', message } };
  return httpError('BB_ERR_INTERNAL', 'internal error');
}
