/**
 * A real nats-server running deploy/nats/auth.conf (docs/security.md Roles), the cluster's
 * buckets and streams made by pulse and reverb, the VIEW mirrors made by `backbeat mirrors`
 * (the built CLI) as user view, and one bus per login, agents and observer with their own
 * inbox prefix. Shared by permissions.test.ts and roles-attack.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { NatsServer } from '@backbeat/testing';
import {
  NatsBus,
  dlqStreamConfig,
  openLeaseBucket,
  openPresenceBucket,
  openStateBucket,
  reportStreamConfig,
  statusStreamConfig,
  type BusEvent,
} from '@backbeat/transport';

export const C = 'chorus-aus-01';
export const LOGINS = ['pulse', 'reverb', 'agent', 'observer', 'view'] as const;
export type Login = (typeof LOGINS)[number];
export const natsDir = fileURLToPath(new URL('../../../deploy/nats/', import.meta.url));
const cli = fileURLToPath(new URL('../../cli/bin/backbeat.js', import.meta.url));
/**
 * Passwords as `openssl rand -hex 24` makes them; the agent's starts with a digit (and reads as a number if unquoted).
 */
export const pass = (l: Login): string => (l === 'agent' ? `0e7${'ab12'.repeat(10)}1` : `${l}-secret-for-test`);
/** The inbox prefix each login uses (auth.conf lets FLEET users subscribe only to theirs). */
export const inboxOf = (l: Login): string | undefined =>
  l === 'agent' || l === 'observer' || l === 'view' ? `_INBOX.${l}` : undefined;

/** One running server with a connected bus per login and the errors each bus reported. */
export interface RolesServer {
  server: NatsServer;
  bus: Record<Login, NatsBus>;
  errors: Record<Login, string[]>;
  stop(): Promise<void>;
}

/** Connects `login` to `url`. */
export function connectAs(url: string, login: Login, name = `roles-${login}`): Promise<NatsBus> {
  const inboxPrefix = inboxOf(login);
  return NatsBus.connect({
    servers: url,
    user: login,
    pass: pass(login),
    name,
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
}

/**
 * Starts the server with auth.conf (the passwords set as the deploy sets them: double-quoted
 * values of BACKBEAT_NATS_<ROLE>_PASS), makes the origins and the mirrors, connects every login.
 * `extraConfig` is added to the server's configuration (e.g. feature flags).
 */
export async function startRolesServer(extraConfig = ''): Promise<RolesServer> {
  const vars = LOGINS.map((l) => `BACKBEAT_NATS_${l.toUpperCase()}_PASS: "${pass(l)}"`).join('\n');
  const server = await NatsServer.start({
    config: `${vars}\n${extraConfig}\n${readFileSync(join(natsDir, 'auth.conf'), 'utf8')}`,
  });
  const bus = {} as Record<Login, NatsBus>;
  const errors = {} as Record<Login, string[]>;
  const stop = async () => {
    for (const l of LOGINS) await bus[l]?.close();
    await server.stop();
  };
  try {
    for (const l of LOGINS) {
      bus[l] = await connectAs(server.url, l);
      errors[l] = [];
      bus[l].onStatus((e: BusEvent) => e.type === 'error' && errors[l].push(e.error.message));
    }
    await openLeaseBucket(bus.pulse, C, { ttlMs: 5000 });
    await openStateBucket(bus.pulse, C);
    await openPresenceBucket(bus.pulse, C);
    for (const s of [statusStreamConfig(C), reportStreamConfig(C), dlqStreamConfig(C)])
      await bus.reverb.ensureStream(s);
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'mirrors',
        '--cluster',
        C,
        '--nats',
        server.url,
        '--nats-user',
        'view',
        '--nats-inbox-prefix',
        '_INBOX.view',
        '--wait',
        '10',
      ],
      {
        env: { ...process.env, BACKBEAT_NATS_PASS: pass('view') },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    if (r.status !== 0) throw new Error(`backbeat mirrors exited ${r.status}: ${r.stderr}${r.stdout}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { server, bus, errors, stop };
}

/** A promise that must reject (an operation a login may not do): returns the error's message. */
export async function refused(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, 'the operation should have been refused').toBeInstanceOf(Error);
  return err!.message;
}
