/**
 * Connection options for NatsBus, mapped onto nats.js's. Defaults fix two measured traps
 * (SPEC 12): nats.js gives up after 10 reconnect attempts and pings every 2 minutes.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

/** How to reach and authenticate to NATS; shared by every component's flags. */
export interface NatsConfig {
  /** One URL or several, e.g. 'nats://127.0.0.1:4222'. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** Connection name shown by the server. */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** NKey seed (the 'SU...' string) for nkey authentication. */
  nkeySeed?: string;
  /** Path of a .creds file (JWT + nkey seed). */
  credsFile?: string;
  /** TLS files; any of them turns TLS on. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Client ping interval. @default 5000 */
  pingIntervalMs?: number;
  /** Unanswered pings before the connection counts as lost. @default 3 */
  maxPingOut?: number;
  /** Wait between reconnect attempts. @default 1000 */
  reconnectTimeWaitMs?: number;
  /** Reconnect attempts; -1 for unlimited. @default -1 */
  maxReconnectAttempts?: number;
  /** Connect timeout. @default 5000 */
  timeoutMs?: number;
  /** Keep retrying the first connection instead of failing at once. @default false */
  waitOnFirstConnect?: boolean;
}

/** Maps a {@link NatsConfig} onto nats.js ConnectionOptions (pure except for reading files). */
export function natsConnectOptions(config: NatsConfig = {}): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: config.servers ?? 'nats://127.0.0.1:4222',
    name: config.name,
    pingInterval: config.pingIntervalMs ?? 5000,
    maxPingOut: config.maxPingOut ?? 3,
    reconnect: true,
    reconnectTimeWait: config.reconnectTimeWaitMs ?? 1000,
    maxReconnectAttempts: config.maxReconnectAttempts ?? -1,
    timeout: config.timeoutMs ?? 5000,
    waitOnFirstConnect: config.waitOnFirstConnect ?? false,
  };
  if (config.user !== undefined) opts.user = config.user;
  if (config.pass !== undefined) opts.pass = config.pass;
  if (config.token !== undefined) opts.token = config.token;
  if (config.nkeySeed) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(config.nkeySeed));
  if (config.credsFile) opts.authenticator = credsAuthenticator(readFileSync(config.credsFile));
  if (config.tls && (config.tls.caFile || config.tls.certFile || config.tls.keyFile)) {
    opts.tls = { ...config.tls };
  }
  return opts;
}
