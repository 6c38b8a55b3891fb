/**
 * Connection options for NatsBus, mapped onto nats.js's. Defaults fix two measured traps
 * (docs/spec.md §12 Known pitfalls): nats.js gives up after 10 reconnect attempts and pings every 2
 * minutes, so a silent partition would go unnoticed for minutes. Credentials and TLS per
 * docs/spec.md §10 Security.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '@backbeat/core';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

/** How to reach and authenticate to NATS; shared by every component's flags. */
export interface NatsConfig {
  /** One URL or several, e.g. 'nats://127.0.0.1:4222'. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** Connection name shown by the server (`/connz`). */
  name?: string;
  /** User name (with `pass`). */
  user?: string;
  pass?: string;
  /** Token authentication. */
  token?: string;
  /** NKey seed (the 'SU...' string) for nkey authentication. Not together with credsFile. */
  nkeySeed?: string;
  /** Path of a .creds file (JWT + nkey seed), read when connecting. Not together with nkeySeed. */
  credsFile?: string;
  /**
   * Prefix of this connection's reply subjects (request replies, JetStream deliveries), e.g.
   * `_INBOX.agent`; a login that may subscribe only to its own prefix reads no one else's
   * replies (docs/security.md Roles). @default '_INBOX'
   */
  inboxPrefix?: string;
  /** TLS files; any of them turns TLS on. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Client ping interval. @default 5000 */
  pingIntervalMs?: number;
  /** Unanswered pings before the connection counts as lost. @default 3 */
  maxPingOut?: number;
  /** Wait between reconnect attempts. @default 1000 */
  reconnectTimeWaitMs?: number;
  /** Reconnect attempts; -1 for unlimited (nats.js's own default is 10). @default -1 */
  maxReconnectAttempts?: number;
  /** Connect timeout. @default 5000 */
  timeoutMs?: number;
  /** Keep retrying the first connection instead of failing at once. @default false */
  waitOnFirstConnect?: boolean;
}

function check(field: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new InvalidArgumentError(`nats.${field}`, `must be an integer >= ${min}, got ${value}`);
  return value;
}

/**
 * Maps a {@link NatsConfig} onto nats.js ConnectionOptions, defaults applied. Pure: a creds
 * file is read only when the connection authenticates.
 * @throws InvalidArgumentError for a bad number, or both nkeySeed and credsFile
 */
export function natsConnectOptions(config: NatsConfig = {}): ConnectionOptions {
  if (config.nkeySeed && config.credsFile)
    throw new InvalidArgumentError('nats.nkeySeed', 'give either an nkey seed or a creds file, not both');
  const opts: ConnectionOptions = {
    servers: config.servers ?? 'nats://127.0.0.1:4222',
    pingInterval: check('pingIntervalMs', config.pingIntervalMs ?? 5000, 1),
    maxPingOut: check('maxPingOut', config.maxPingOut ?? 3, 1),
    reconnect: true,
    reconnectTimeWait: check('reconnectTimeWaitMs', config.reconnectTimeWaitMs ?? 1000, 0),
    maxReconnectAttempts: check('maxReconnectAttempts', config.maxReconnectAttempts ?? -1, -1),
    timeout: check('timeoutMs', config.timeoutMs ?? 5000, 1),
    waitOnFirstConnect: config.waitOnFirstConnect ?? false,
  };
  if (config.name !== undefined) opts.name = config.name;
  if (config.user !== undefined) opts.user = config.user;
  if (config.pass !== undefined) opts.pass = config.pass;
  if (config.token !== undefined) opts.token = config.token;
  if (config.inboxPrefix !== undefined) {
    if (!/^[^\s*>]+$/.test(config.inboxPrefix) || config.inboxPrefix.split('.').some((t) => t === '')) {
      throw new InvalidArgumentError(
        'nats.inboxPrefix',
        `must be a subject without wildcards or empty tokens, got '${config.inboxPrefix}'`,
      );
    }
    opts.inboxPrefix = config.inboxPrefix;
  }
  if (config.nkeySeed) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(config.nkeySeed));
  const credsFile = config.credsFile;
  if (credsFile) opts.authenticator = credsAuthenticator(() => readFileSync(credsFile));
  const tls = config.tls;
  if (tls && (tls.caFile || tls.certFile || tls.keyFile)) {
    opts.tls = {
      ...(tls.caFile ? { caFile: tls.caFile } : {}),
      ...(tls.certFile ? { certFile: tls.certFile } : {}),
      ...(tls.keyFile ? { keyFile: tls.keyFile } : {}),
    };
  }
  return opts;
}
