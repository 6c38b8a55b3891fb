/** What the terminal tools (`status`, `dlq`) share: the cluster flag, a NATS connection that fails in one line. */
import type { Command } from 'commander';
import { InvalidArgumentError } from '@backbeat/core';
import { assertClusterId, type NatsBus } from '@backbeat/transport';
import { UsageError } from './errors.js';
import { addNatsFlags, connectBus, type NatsFlags } from './nats-flags.js';
import { assertClusterExists } from './cluster-status.js';

/** Flags of a terminal tool. */
export interface ToolFlags extends NatsFlags {
  cluster: string;
  json?: boolean;
}

/** Adds --cluster, --json and the NATS flags. */
export function addToolFlags(cmd: Command): Command {
  cmd.option('--cluster <id>', 'cluster id (or BACKBEAT_CLUSTER_ID)', process.env.BACKBEAT_CLUSTER_ID ?? 'chorus-aus-01').option('--json', 'machine-readable output');
  return addNatsFlags(cmd);
}

/**
 * Connects and checks that the cluster exists, then runs `fn` and closes the connection.
 * @throws UsageError for a malformed --cluster, NatsUnreachableError, ClusterNotFoundError
 */
export async function withCluster<T>(f: ToolFlags, name: string, fn: (bus: NatsBus) => Promise<T>): Promise<T> {
  try {
    assertClusterId(f.cluster);
  } catch (err) {
    throw new UsageError('--cluster', err instanceof InvalidArgumentError ? err.context.rule : (err as Error).message);
  }
  const bus = await connectBus(f, name);
  try {
    await assertClusterExists(bus, f.cluster, f.nats);
    return await fn(bus);
  } finally {
    await bus.close();
  }
}
