/**
 * A cluster of real nats-servers with clustered JetStream (Raft), for tests of failover and
 * replicated KV. Every node listens on loopback; route ports are reserved up front.
 *
 * ```ts
 * await using cluster = await NatsCluster.start(3);
 * const bus = await NatsBus.connect({ servers: cluster.urls });
 * await cluster.servers[0]!.halt(); // lose a node
 * ```
 */
import { NatsServer, type NatsServerOptions } from './nats-server.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** Options of {@link NatsCluster.start}. */
export interface NatsClusterOptions extends Pick<NatsServerOptions, 'binary' | 'startTimeoutMs' | 'stopGraceMs' | 'config'> {
  /** Cluster name. @default 'backbeat-test' */
  name?: string;
  /** How long to wait for a JetStream meta leader. @default 20000 */
  readyTimeoutMs?: number;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

/** Several nats-servers routed into one cluster. */
export class NatsCluster {
  readonly servers: readonly NatsServer[];

  private constructor(servers: NatsServer[]) {
    this.servers = servers;
  }

  /**
   * Starts `n` nodes (n >= 1), routes them together and waits until JetStream has elected
   * a meta leader, so streams and KV buckets can be created at once.
   * @throws Error when a node does not start or the cluster does not form in time
   */
  static async start(n: number, options: NatsClusterOptions = {}): Promise<NatsCluster> {
    if (!Number.isInteger(n) || n < 1) throw new Error(`cluster size must be an integer >= 1, got ${n}`);
    const name = options.name ?? 'backbeat-test';
    const routePorts: number[] = [];
    for (let i = 0; i < n; i++) routePorts.push(await freePort());
    const routes = routePorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ');
    const started = await Promise.allSettled(
      routePorts.map((port, i) =>
        NatsServer.start({
          binary: options.binary,
          startTimeoutMs: options.startTimeoutMs,
          stopGraceMs: options.stopGraceMs,
          monitor: true,
          config: [
            `server_name: "${name}-${i}"`,
            `cluster { name: "${name}", listen: "127.0.0.1:${port}", routes: [${routes}] }`,
            options.config ?? '',
          ].join('\n'),
        }),
      ),
    );
    const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const cluster = new NatsCluster(servers);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await cluster.stop();
      throw failed.reason;
    }
    try {
      await cluster.waitForJetStream(options.readyTimeoutMs ?? 20_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Client URLs of every node. */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /**
   * Waits until every running node reports the same JetStream meta leader.
   * @throws Error on timeout
   */
  async waitForJetStream(timeoutMs = 20_000): Promise<string> {
    return waitFor(
      async () => {
        const leaders = await Promise.all(
          this.servers
            .filter((s) => s.running)
            .map(async (s) => {
              const res = await fetch(`${s.monitorUrl}/jsz`);
              return ((await res.json()) as Jsz).meta_cluster?.leader ?? '';
            }),
        );
        const first = leaders[0];
        return first && leaders.every((l) => l === first) ? first : '';
      },
      { timeoutMs, intervalMs: 100, message: 'a JetStream meta leader in the cluster' },
    );
  }

  /** Stops every node and removes their directories. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  /** Same as {@link stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
