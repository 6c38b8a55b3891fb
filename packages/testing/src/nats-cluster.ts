/**
 * A cluster of real nats-servers with clustered JetStream (Raft), for tests of failover and
 * replicated KV, and the faults of the chaos suite: kill -9 of a node (the leader of a given
 * stream or bucket too), restart on the same ports and store, SIGSTOP/SIGCONT, a rolling
 * restart and a full outage. Every node listens on loopback; route ports are reserved up front.
 * The monitoring endpoint of each node answers the questions (no NATS client needed here).
 *
 * ```ts
 * await using cluster = await NatsCluster.start(3);
 * const bus = await NatsBus.connect({ servers: cluster.urls });
 * const i = await cluster.streamLeader('KV_backbeat_c1_lease'); // index of the node leading it
 * await cluster.kill(i);     // kill -9
 * await cluster.restart(i);  // same ports, same JetStream store
 * ```
 */
import { NatsBus } from '@backbeat/transport';
import { NatsServer, type NatsServerOptions } from './nats-server.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** Options of {@link NatsCluster.start}. */
export interface NatsClusterOptions
  extends Pick<NatsServerOptions, 'binary' | 'startTimeoutMs' | 'stopGraceMs' | 'config' | 'jetstreamConfig'> {
  /** Cluster name. @default 'backbeat-test' */
  name?: string;
  /** How long to wait for a JetStream meta leader. @default 20000 */
  readyTimeoutMs?: number;
}

/** Cluster starts tried when a route port was taken between picking and binding it. */
const PORT_RACE_ATTEMPTS = 3;

interface Routez {
  num_routes?: number;
  routes?: { remote_name?: string; account?: string }[];
}

interface Jsz {
  meta_cluster?: {
    leader?: string;
    cluster_size?: number;
    replicas?: ReadonlyArray<{ name: string; current: boolean; offline?: boolean }>;
  };
  account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: StreamCluster }> }>;
}

/** Where a stream's copies are, as the monitoring endpoint says. */
export interface StreamCluster {
  /** Server name of the node leading the stream's Raft group; absent while it elects one. */
  readonly leader?: string;
  /** The other copies: whether each is current, and how far behind. */
  readonly replicas?: ReadonlyArray<{ readonly name: string; readonly current: boolean; readonly lag?: number }>;
}

/** Bound of one monitoring request: a paused node must not hang the harness. */
const MONITOR_TIMEOUT_MS = 1000;

/** Several nats-servers routed into one cluster. */
export class NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Server names (`server_name`) by index: what stream leaders are reported as. */
  readonly names: readonly string[];
  /** Monitoring base URL of each node as this process reaches it. */
  readonly #monitorUrls: ReadonlyArray<string | undefined>;

  private constructor(servers: NatsServer[], names: string[], monitorUrls?: ReadonlyArray<string | undefined>) {
    this.servers = servers;
    this.names = names;
    this.#monitorUrls = monitorUrls ?? [];
  }

  /**
   * A view of servers started elsewhere (e.g. one per network namespace by NetCluster), whose
   * monitoring endpoints this process reaches at `monitorUrls` (same order as `servers`).
   */
  static of(servers: NatsServer[], names: string[], monitorUrls: ReadonlyArray<string | undefined>): NatsCluster {
    return new NatsCluster(servers, names, monitorUrls);
  }

  #monitorUrl(server: NatsServer): string | undefined {
    return this.#monitorUrls[this.servers.indexOf(server)] ?? server.monitorUrl;
  }

  /**
   * Starts `n` nodes (n >= 1), routes them together and waits until JetStream has elected
   * a meta leader, so streams and KV buckets can be created at once.
   * @throws Error when a node does not start or the cluster does not form in time
   */
  static async start(n: number, options: NatsClusterOptions = {}): Promise<NatsCluster> {
    if (!Number.isInteger(n) || n < 1) throw new Error(`cluster size must be an integer >= 1, got ${n}`);
    // Route ports are picked before the nodes bind them; another process (a parallel test file)
    // can take one in between. Then the node says "address already in use": pick new ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.#startOnce(n, options);
      } catch (err) {
        if (attempt >= PORT_RACE_ATTEMPTS || !/address already in use/i.test(String((err as Error)?.message ?? err)))
          throw err;
      }
    }
  }

  static async #startOnce(n: number, options: NatsClusterOptions): Promise<NatsCluster> {
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
          jetstreamConfig: options.jetstreamConfig,
          config: [
            `server_name: "${name}-${i}"`,
            `cluster { name: "${name}", listen: "127.0.0.1:${port}", routes: [${routes}] }`,
            options.config ?? '',
          ].join('\n'),
        }),
      ),
    );
    const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const cluster = new NatsCluster(
      servers,
      routePorts.map((_, i) => `${name}-${i}`),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await cluster.stop();
      throw failed.reason;
    }
    try {
      await cluster.waitForRoutes(options.readyTimeoutMs ?? 20_000);
      await cluster.waitForJetStream(options.readyTimeoutMs ?? 20_000);
      await cluster.waitForPlacement(options.readyTimeoutMs ?? 20_000);
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

  /** Nodes whose process runs and is not paused: the ones that can answer. */
  #answering(): NatsServer[] {
    return this.servers.filter((s) => s.running && !s.paused);
  }

  async #jsz(server: NatsServer, query = ''): Promise<Jsz> {
    const res = await fetch(`${this.#monitorUrl(server)}/jsz${query}`, {
      signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS),
    });
    return (await res.json()) as Jsz;
  }

  /** @throws RangeError for an index that is not a node of this cluster */
  #node(i: number): NatsServer {
    const s = this.servers[i];
    if (!Number.isInteger(i) || !s) throw new RangeError(`node index must be 0..${this.servers.length - 1}, got ${i}`);
    return s;
  }

  /**
   * Waits until every answering node says it is healthy (`/healthz` answers 200: on 2.10+ its
   * JetStream is current with the meta leader and its streams' copies are caught up). A node back
   * from a cut can answer its clients' JetStream requests with 503 for seconds after its routes
   * are back, although every stream has a leader and current copies as the leaders see them.
   * @throws Error on timeout, naming the nodes still unhealthy and what they said
   */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const said = await Promise.all(
          this.#answering().map(async (s) => {
            const res = await fetch(`${this.#monitorUrl(s)}/healthz`, {
              signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS),
            }).catch((err: Error) => ({ ok: false, text: async () => err.message }));
            return res.ok ? null : `${this.names[this.servers.indexOf(s)]}: ${(await res.text()).slice(0, 200)}`;
          }),
        );
        const sick = said.filter((x): x is string => x !== null);
        if (sick.length > 0) throw new Error(sick.join('; ')); // the last one is in the timeout's message
        return true;
      },
      { timeoutMs, intervalMs: 100, message: 'every node healthy' },
    );
  }

  /**
   * Waits until every answering node has a route to every other answering node, so each one
   * announces the whole cluster to its clients (INFO `connect_urls`: what `--replicas auto`
   * counts). On 2.10+ a pair of nodes is joined by a pool of routes (`pool_size`, 3 by default)
   * and an account's interest travels on one of them: the pool must be whole, or a stream just
   * created can be unreachable from some node for a moment ("no responders").
   * @throws Error on timeout
   */
  async waitForRoutes(timeoutMs = 20_000): Promise<void> {
    const get = async <T>(s: NatsServer, path: string): Promise<T> =>
      (await (
        await fetch(`${this.#monitorUrl(s)}${path}`, { signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS) })
      ).json()) as T;
    await waitFor(
      async () => {
        const nodes = this.#answering();
        const whole = await Promise.all(
          nodes.map(async (s) => {
            const [routez, varz] = await Promise.all([
              get<Routez>(s, '/routez'),
              get<{ cluster?: { pool_size?: number } }>(s, '/varz'),
            ]);
            const pool = varz.cluster?.pool_size ?? 0;
            if (pool <= 0) return (routez.num_routes ?? 0) >= nodes.length - 1;
            const pooled = new Map<string, number>();
            for (const r of routez.routes ?? [])
              if (!r.account && r.remote_name) pooled.set(r.remote_name, (pooled.get(r.remote_name) ?? 0) + 1);
            return pooled.size >= nodes.length - 1 && [...pooled.values()].every((n) => n >= pool);
          }),
        );
        return whole.every(Boolean) ? true : null;
      },
      { timeoutMs, intervalMs: 20, message: 'routes between every pair of nodes' },
    );
  }

  /**
   * Waits until every answering node reports the same JetStream meta leader, and that leader counts
   * every other answering node as a current peer, none of them offline (before that, an R3 create
   * can answer "no suitable peers for placement", "peer offline" under load); returns the leader's name.
   * @throws Error on timeout
   */
  async waitForJetStream(timeoutMs = 20_000): Promise<string> {
    return waitFor(
      async () => {
        const nodes = this.#answering();
        const metas = await Promise.all(nodes.map(async (s) => (await this.#jsz(s)).meta_cluster));
        const first = metas[0]?.leader;
        if (!first || !metas.every((m) => m?.leader === first)) return '';
        const leader = metas[nodes.findIndex((s) => this.names[this.servers.indexOf(s)] === first)];
        if (nodes.length > 1 && !leader) return '';
        const current = (leader?.replicas ?? []).filter((r) => r.current && r.offline !== true).length;
        return current >= nodes.length - 1 ? first : '';
      },
      { timeoutMs, intervalMs: 20, message: 'a JetStream meta leader in the cluster' },
    );
  }

  /**
   * Waits until the meta leader places a stream on every answering node: it creates (and deletes) a
   * small in-memory stream with one copy per node until the create succeeds. A meta leader whose peers
   * are all current can still answer "no suitable peers for placement, peer offline" for a moment after
   * a start, until it has heard each peer's own report (met under load, in CI).
   * `servers`: the URLs this process reaches the nodes at, when not their own (NetCluster's relays).
   * On a cluster that requires logins the harness does not have, nothing is probed.
   * @throws Error on timeout, with the last refusal
   */
  async waitForPlacement(timeoutMs = 20_000, servers?: string[]): Promise<void> {
    const nodes = this.#answering();
    if (nodes.length < 2) return;
    const urls = servers ?? nodes.map((s) => s.url);
    let bus: NatsBus;
    try {
      bus = await NatsBus.connect({ servers: urls, name: 'harness placement probe' });
    } catch (err) {
      // A cluster with logins of the test's own (roles): the harness has none; the services retry "peer offline".
      if (/Authorization Violation/i.test((err as Error).message)) return;
      throw err;
    }
    try {
      const jsm = await bus.jsm();
      const name = 'HARNESS_PLACEMENT_PROBE';
      await waitFor(
        async () => {
          await jsm.streams.add({
            name,
            subjects: ['_harness.placement.probe'],
            num_replicas: nodes.length,
            storage: 'memory' as Parameters<typeof jsm.streams.add>[0]['storage'],
          });
          await jsm.streams.delete(name);
          return true;
        },
        { timeoutMs, intervalMs: 100, message: `a stream placed on all ${nodes.length} nodes` },
      );
    } finally {
      await bus.close();
    }
  }

  /**
   * Where a stream's copies are now (a KV bucket's stream is `KV_<bucket>`), asked of the
   * answering nodes until one knows; null when none reports the stream (or none answers).
   */
  async streamCluster(stream: string): Promise<StreamCluster | null> {
    for (const s of this.#answering()) {
      const seen = await this.#streamDetail(s, stream);
      if (!seen?.leader) continue;
      // Only the leader knows whether the other copies are current: ask it when it answers.
      const leader = this.servers[this.names.indexOf(seen.leader)];
      const told =
        leader && leader !== s && leader.running && !leader.paused ? await this.#streamDetail(leader, stream) : seen;
      return told?.leader === seen.leader ? told : seen;
    }
    return null;
  }

  /** One node's view of a stream's cluster, or null when it does not answer or know the stream. */
  async #streamDetail(server: NatsServer, stream: string): Promise<StreamCluster | null> {
    try {
      const jsz = await this.#jsz(server, '?accounts=true&streams=true');
      for (const account of jsz.account_details ?? []) {
        const found = account.stream_detail?.find((d) => d.name === stream);
        if (found?.cluster) return found.cluster;
      }
    } catch {
      // Restarting, or not answering: the caller asks another node.
    }
    return null;
  }

  /**
   * Index of the node leading `stream`'s Raft group, waiting (up to `timeoutMs`) while it
   * elects one.
   * @throws Error on timeout
   */
  async streamLeader(stream: string, timeoutMs = 10_000): Promise<number> {
    const found = await waitFor(
      async () => {
        const leader = (await this.streamCluster(stream))?.leader;
        const i = leader === undefined ? -1 : this.names.indexOf(leader);
        return i >= 0 && this.servers[i]!.running && !this.servers[i]!.paused ? { i } : null; // boxed: index 0 is falsy
      },
      { timeoutMs, intervalMs: 100, message: `a leader for stream '${stream}'` },
    );
    return found.i;
  }

  /**
   * Waits until `stream` has a leader and every other copy is current (caught up), e.g.
   * after a node came back; returns the leader's index.
   * @throws Error on timeout
   */
  async waitForStreamCurrent(stream: string, replicas: number, timeoutMs = 20_000): Promise<number> {
    const found = await waitFor(
      async () => {
        const c = await this.streamCluster(stream);
        const leader = c?.leader === undefined ? -1 : this.names.indexOf(c.leader);
        const current = (c?.replicas ?? []).filter((r) => r.current).length;
        return leader >= 0 && this.servers[leader]!.running && current >= replicas - 1 ? { i: leader } : null;
      },
      { timeoutMs, intervalMs: 100, message: `stream '${stream}' with a leader and ${replicas - 1} current copies` },
    );
    return found.i;
  }

  /** kill -9 of node `i` (its directory stays for {@link restart}). */
  async kill(i: number): Promise<void> {
    await this.#node(i).kill();
  }

  /** Stops node `i` cleanly (SIGTERM, then SIGKILL after the grace); its directory stays. */
  async halt(i: number): Promise<void> {
    await this.#node(i).halt();
  }

  /**
   * Starts node `i` again, after a kill or a halt (or stops it cleanly first when it runs),
   * on the same client, route and monitoring ports with the same JetStream store, and waits
   * until the cluster agrees on a meta leader again.
   * @throws Error when the node does not start or the cluster does not re-form in time
   */
  async restart(i: number, timeoutMs = 20_000): Promise<void> {
    await this.#node(i).restart();
    await this.waitForJetStream(timeoutMs);
  }

  /** SIGSTOP of node `i`: alive, holding its sockets, answering nothing. */
  pause(i: number): void {
    this.#node(i).signal('SIGSTOP');
  }

  /** SIGCONT of node `i` after {@link pause}. */
  resume(i: number): void {
    this.#node(i).signal('SIGCONT');
  }

  /** A full outage: kill -9 of every node at once (directories stay). */
  async killAll(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
  }

  /**
   * Starts every node that is not running (after {@link killAll}) and waits for a meta
   * leader. Nodes start together: a lone node of a 3-node JetStream cluster waits for a quorum.
   * @throws Error when a node does not start or the cluster does not re-form in time
   */
  async startAll(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.servers.filter((s) => !s.running).map((s) => s.restart()));
    await this.waitForJetStream(timeoutMs);
  }

  /** Stops every node (paused ones too) and removes their directories. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  /** Same as {@link stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
