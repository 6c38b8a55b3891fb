/**
 * Admin auth of reverb's HTTP server (SPEC 10): every request that changes state (any method
 * but GET, HEAD and OPTIONS, e.g. the dashboard's tempo proxy to the pulse) needs the bearer
 * token; without a token configured the server may listen on loopback only.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@backbeat/core';

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Refuses to serve a non-loopback address without an admin token.
 * @throws InvalidArgumentError (field `http-host`) with the fix in the message
 */
export function assertBindable(host: string, adminToken: string | undefined): void {
  if (!adminToken && !isLoopbackHost(host)) {
    throw new InvalidArgumentError('http-host', `'${host}' is not a loopback address: without --admin-token (BACKBEAT_ADMIN_TOKEN) reverb listens on 127.0.0.1 or ::1 only`);
  }
}

/** True when `authorization` is `Bearer <token>` (compared in constant time). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(authorization ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Methods that never change state. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
