/**
 * The NATS connection flags every service command shares (docs/spec.md §10 Security):
 * credentials and TLS. Every secret can come from a flag, a file or the environment
 * (secrets.ts); a URL is shown with its password masked.
 */
import type { Command } from 'commander';
import { DEFAULT_CLUSTER_ID, InvalidArgumentError, redactCredentials } from '@backbeat/core';
import { NatsBus, parseReplicaSetting, type NatsConfig, type ReplicaSetting } from '@backbeat/transport';
import { NatsUnreachableError } from './errors.js';
import { readSecret } from './secrets.js';
import { UsageError } from './usage.js';

/** Parsed NATS flags. */
export interface NatsFlags {
  nats: string;
  natsUser?: string;
  natsPass?: string;
  natsPassFile?: string;
  natsToken?: string;
  natsTokenFile?: string;
  natsNkey?: string;
  natsNkeyFile?: string;
  natsCreds?: string;
  natsInboxPrefix?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

/** Adds --nats and the credential and TLS flags. */
export function addNatsFlags(cmd: Command, defaultUrl = 'nats://127.0.0.1:4222'): Command {
  return cmd
    .option('--nats <url>', 'NATS server URL(s), comma-separated', process.env.BACKBEAT_NATS_URL ?? defaultUrl)
    .option('--nats-user <user>', 'NATS user name (or BACKBEAT_NATS_USER)')
    .option('--nats-pass <password>', 'NATS password; visible in ps: prefer --nats-pass-file (or BACKBEAT_NATS_PASS)')
    .option('--nats-pass-file <file>', 'file holding the NATS password (or BACKBEAT_NATS_PASS_FILE)')
    .option('--nats-token <token>', 'NATS token; visible in ps: prefer --nats-token-file (or BACKBEAT_NATS_TOKEN)')
    .option('--nats-token-file <file>', 'file holding the NATS token (or BACKBEAT_NATS_TOKEN_FILE)')
    .option('--nats-nkey <seed>', 'NATS nkey seed; visible in ps: prefer --nats-nkey-file (or BACKBEAT_NATS_NKEY)')
    .option('--nats-nkey-file <file>', 'file holding the NATS nkey seed (or BACKBEAT_NATS_NKEY_FILE)')
    .option('--nats-creds <file>', 'NATS credentials file (JWT and nkey) (or BACKBEAT_NATS_CREDS)')
    .option(
      '--nats-inbox-prefix <prefix>',
      'prefix of reply subjects, e.g. _INBOX.agent (or BACKBEAT_NATS_INBOX_PREFIX)',
    )
    .option('--nats-tls-ca <file>', 'CA certificate for TLS to NATS')
    .option('--nats-tls-cert <file>', 'client certificate for TLS to NATS')
    .option('--nats-tls-key <file>', 'client key for TLS to NATS');
}

/**
 * Maps the flags (and their file and environment fallbacks) onto a NatsConfig.
 * @throws UsageError naming the flag when a secret file cannot be read
 */
export function natsConfigFrom(f: NatsFlags, name: string): NatsConfig {
  const env = process.env;
  const secret = (flag: string, value: string | undefined, file: string | undefined, envName: string) =>
    readSecret({ flag, value, fileFlag: `${flag}-file`, file, env: envName }, env);
  return {
    servers: f.nats
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    name,
    user: f.natsUser ?? (env.BACKBEAT_NATS_USER || undefined),
    pass: secret('--nats-pass', f.natsPass, f.natsPassFile, 'BACKBEAT_NATS_PASS'),
    token: secret('--nats-token', f.natsToken, f.natsTokenFile, 'BACKBEAT_NATS_TOKEN'),
    nkeySeed: secret('--nats-nkey', f.natsNkey, f.natsNkeyFile, 'BACKBEAT_NATS_NKEY'),
    credsFile: f.natsCreds ?? (env.BACKBEAT_NATS_CREDS || undefined),
    inboxPrefix: f.natsInboxPrefix ?? (env.BACKBEAT_NATS_INBOX_PREFIX || undefined),
    tls:
      f.natsTlsCa || f.natsTlsCert || f.natsTlsKey
        ? { caFile: f.natsTlsCa, certFile: f.natsTlsCert, keyFile: f.natsTlsKey }
        : undefined,
  };
}

/** The `--nats` URLs as they may be shown: passwords and tokens masked. */
export function shownNatsUrl(f: Pick<NatsFlags, 'nats'>): string {
  return redactCredentials(f.nats);
}

/** Connects, turning a failure into one sentence naming the URL (masked). @throws NatsUnreachableError */
export async function connectBus(f: NatsFlags, name: string): Promise<NatsBus> {
  const config = natsConfigFrom(f, name);
  try {
    return await NatsBus.connect(config);
  } catch (err) {
    throw new NatsUnreachableError(shownNatsUrl(f), redactCredentials((err as Error).message), { cause: err });
  }
}

/** Adds `--replicas N|auto` (env BACKBEAT_REPLICAS): copies of the buckets and streams a service owns. */
export function addReplicasFlag(cmd: Command): Command {
  return cmd.option(
    '--replicas <n|auto>',
    "copies of every bucket and stream this service creates: 1 to 5, or 'auto' = " +
      'min(3, JetStream servers seen) (or BACKBEAT_REPLICAS)',
    process.env.BACKBEAT_REPLICAS ?? 'auto',
  );
}

/** The `--replicas` value. @throws UsageError naming the flag and the rule */
export function replicasFlag(value: string): ReplicaSetting {
  try {
    return parseReplicaSetting(value);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError('--replicas', err.context.rule);
    throw err;
  }
}

/**
 * Adds `--cluster <id>` (env BACKBEAT_CLUSTER_ID, default DEFAULT_CLUSTER_ID): the one definition every command uses.
 */
export function addClusterFlag(cmd: Command): Command {
  return cmd.option(
    '--cluster <id>',
    'cluster id (or BACKBEAT_CLUSTER_ID)',
    process.env.BACKBEAT_CLUSTER_ID ?? DEFAULT_CLUSTER_ID,
  );
}
