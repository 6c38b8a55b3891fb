/** The NATS connection flags every service command shares (SPEC 10: credentials and TLS). */
import type { Command } from 'commander';
import { DEFAULT_CLUSTER_ID, InvalidArgumentError } from '@backbeat/core';
import { NatsBus, parseReplicaSetting, type NatsConfig, type ReplicaSetting } from '@backbeat/transport';
import { NatsUnreachableError } from './errors.js';
import { UsageError } from './usage.js';

/** Parsed NATS flags. */
export interface NatsFlags {
  nats: string;
  natsUser?: string;
  natsPass?: string;
  natsToken?: string;
  natsNkey?: string;
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
    .option('--nats-user <user>', 'NATS user name')
    .option('--nats-pass <password>', 'NATS password (or BACKBEAT_NATS_PASS)')
    .option('--nats-token <token>', 'NATS token (or BACKBEAT_NATS_TOKEN)')
    .option('--nats-nkey <seed>', 'NATS nkey seed (or BACKBEAT_NATS_NKEY)')
    .option('--nats-creds <file>', 'NATS credentials file (JWT and nkey)')
    .option('--nats-inbox-prefix <prefix>', 'prefix of reply subjects, e.g. _INBOX.agent (or BACKBEAT_NATS_INBOX_PREFIX)')
    .option('--nats-tls-ca <file>', 'CA certificate for TLS to NATS')
    .option('--nats-tls-cert <file>', 'client certificate for TLS to NATS')
    .option('--nats-tls-key <file>', 'client key for TLS to NATS');
}

/** Maps the flags (and their environment fallbacks) onto a NatsConfig. */
export function natsConfigFrom(f: NatsFlags, name: string): NatsConfig {
  const env = process.env;
  return {
    servers: f.nats.split(',').map((s) => s.trim()).filter(Boolean),
    name,
    user: f.natsUser,
    pass: f.natsPass ?? env.BACKBEAT_NATS_PASS,
    token: f.natsToken ?? env.BACKBEAT_NATS_TOKEN,
    nkeySeed: f.natsNkey ?? env.BACKBEAT_NATS_NKEY,
    credsFile: f.natsCreds,
    inboxPrefix: f.natsInboxPrefix ?? env.BACKBEAT_NATS_INBOX_PREFIX,
    tls: f.natsTlsCa || f.natsTlsCert || f.natsTlsKey ? { caFile: f.natsTlsCa, certFile: f.natsTlsCert, keyFile: f.natsTlsKey } : undefined,
  };
}

/** Connects, turning a failure into one sentence naming the URL. @throws NatsUnreachableError */
export async function connectBus(f: NatsFlags, name: string): Promise<NatsBus> {
  try {
    return await NatsBus.connect(natsConfigFrom(f, name));
  } catch (err) {
    throw new NatsUnreachableError(f.nats, (err as Error).message, { cause: err });
  }
}

/** Adds `--replicas N|auto` (env BACKBEAT_REPLICAS): copies of the buckets and streams a service owns. */
export function addReplicasFlag(cmd: Command): Command {
  return cmd.option(
    '--replicas <n|auto>',
    "copies of every bucket and stream this service creates: 1 to 5, or 'auto' = min(3, JetStream servers seen) (or BACKBEAT_REPLICAS)",
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

/** Adds `--cluster <id>` (env BACKBEAT_CLUSTER_ID, default DEFAULT_CLUSTER_ID): the one definition every command uses. */
export function addClusterFlag(cmd: Command): Command {
  return cmd.option('--cluster <id>', 'cluster id (or BACKBEAT_CLUSTER_ID)', process.env.BACKBEAT_CLUSTER_ID ?? DEFAULT_CLUSTER_ID);
}
