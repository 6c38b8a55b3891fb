/**
 * Where reverb's HTTP server may listen (docs/spec.md §10 Security): without an admin token,
 * on loopback only. The request checks themselves are the shared guard of @backbeat/core.
 */
import { InvalidArgumentError, isLoopbackHost } from '@backbeat/core';

/**
 * Refuses to serve a non-loopback address without an admin token.
 * @throws InvalidArgumentError (field `http-host`) with the fix in the message
 */
export function assertBindable(host: string, adminToken: string | undefined): void {
  if (!adminToken && !isLoopbackHost(host)) {
    throw new InvalidArgumentError(
      'http-host',
      `'${host}' is not a loopback address: without --admin-token ` +
        '(BACKBEAT_ADMIN_TOKEN) reverb listens on 127.0.0.1 or ::1 only',
    );
  }
}
