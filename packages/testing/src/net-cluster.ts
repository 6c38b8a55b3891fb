/**
 * A network of hosts for tests of partitions: each host is a Linux network namespace with one
 * address on a private test network (addresses that exist only inside the namespaces), joined
 * by veth pairs to a bridge that lives in a namespace of its own, so the machine's own network
 * is never touched. A host may run one nats-server of a JetStream cluster (client port 4222,
 * route port 6222 on its address); processes start inside a chosen host. Faults are nftables
 * rules that DROP (never reject): TCP sees silence, as in a real partition; ARP still passes,
 * as a switch between racks would keep answering.
 *
 * The test process itself stays outside: it reaches a host's ports through a control path (a
 * relay on a Unix socket, see netns-relay.ts) that no fault touches, like an out-of-band
 * management network: monitoring endpoints, set-up connections, reachability probes.
 *
 * ```ts
 * await using net = await NetCluster.start({ hosts: 3, nats: true });
 * const p = net.node(0, 'packages/cli/bin/backbeat.js', ['pulse', '--nats', net.natsUrl(0)]);
 * await net.isolate(0);      // h1 hears nothing and nobody hears h1
 * await net.cut(1, 2);       // h2 and h3 lose each other, both still reach h1
 * await net.cutOneWay(0, 1); // what h1 sends to h2 is dropped; h2 to h1 passes
 * await net.cutPort(0, 4222); // every TCP connection to or from port 4222 on h1 (its own clients too)
 * await net.heal();          // every rule removed, and every pair reaches every other again
 * ```
 *
 * Names are unique per run (`bbn-<pid>-<n>-h1`), so test files in parallel never collide; the
 * namespaces, links, bridge, rules and processes go with {@link stop}, with the exit hook when
 * the test fails or is interrupted, and with the next start when the process was killed -9.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './cleanup.js';
import { NatsCluster } from './nats-cluster.js';
import { NatsServer, type NatsServerOptions } from './nats-server.js';
import {
  bridgeDropScript,
  createNetwork,
  flushFaults,
  isolateMatches,
  netHosts,
  nft,
  oneWayMatch,
  portDropScript,
  switchNetns,
  type NetHost,
} from './net-links.js';
import { destroyNetnsSync, missingForNetns, sweepOrphans, uniquePrefix } from './netns.js';
import { NetnsRelay, PROBE_PORT, type ProbeResult } from './netns-relay.js';
import { ManagedProcess, type SpawnOptions } from './process.js';
import { waitFor } from './wait.js';

/** Client port of every host's nats-server, on the host's address. */
export const NET_NATS_PORT = 4222;
/** Route port of every host's nats-server. */
export const NET_ROUTE_PORT = 6222;

/** Options of {@link NetCluster.start}. */
export interface NetClusterOptions {
  /** Number of hosts (1 to 50), named h1, h2 ... */
  hosts: number;
  /**
   * Which hosts run a nats-server of one JetStream cluster: every host (`true`), none, or these indexes. @default false
   */
  nats?: boolean | readonly number[];
  /** Passed on to every nats-server (`config` lines go after the generated ones). */
  natsOptions?: Pick<NatsServerOptions, 'binary' | 'config' | 'jetstreamConfig' | 'startTimeoutMs' | 'stopGraceMs'>;
  /** NATS cluster name. @default 'net' */
  clusterName?: string;
  /** How long to wait for the network, and for the NATS cluster to elect a meta leader. @default 30000 */
  readyTimeoutMs?: number;
}

/** A network of hosts, each a network namespace. */
export class NetCluster {
  readonly hosts: readonly NetHost[];
  /** The nats-servers as a NatsCluster (monitoring through the control path), when asked for. */
  nats: NatsCluster | undefined;
  readonly #prefix: string;
  readonly #dir: string;
  readonly #options: NetClusterOptions;
  readonly #relays: NetnsRelay[] = [];
  /** nats-server by host index. */
  readonly #servers = new Map<number, NatsServer>();
  readonly #procs = new Set<ManagedProcess>();
  readonly #faults: string[] = [];
  /** Monitoring base URL (through the control path) by host index. */
  readonly #monitorBases = new Map<number, string>();
  readonly #unregister: () => void;
  #stopped = false;

  private constructor(prefix: string, options: NetClusterOptions) {
    this.#prefix = prefix;
    this.#options = options;
    this.#dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    this.hosts = netHosts(prefix, options.hosts);
    const names = [this.#switchNs, ...this.hosts.map((h) => h.netns)];
    const dir = this.#dir;
    this.#unregister = onProcessExit(() => {
      for (const n of names) destroyNetnsSync(n);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  /**
   * Makes the network (and the NATS cluster when asked) and waits until every host reaches
   * every other one (and the NATS cluster has a meta leader).
   * @throws Error in one line saying what is missing when the machine cannot make namespaces
   *   (not root, no `ip` or `nft`, `ip netns add` refused); any failure leaves nothing behind
   */
  static async start(options: NetClusterOptions): Promise<NetCluster> {
    const n = options.hosts;
    if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`hosts must be an integer from 1 to 50, got ${n}`);
    const missing = missingForNetns();
    if (missing) throw new Error(missing);
    sweepOrphans();
    const net = new NetCluster(uniquePrefix(), options);
    try {
      await net.#build();
    } catch (err) {
      await net.stop();
      throw err;
    }
    return net;
  }

  get #switchNs(): string {
    return switchNetns(this.#prefix);
  }

  /** @throws RangeError for an index that is not a host */
  #host(i: number): NetHost {
    const h = this.hosts[i];
    if (!Number.isInteger(i) || !h) throw new RangeError(`host index must be 0..${this.hosts.length - 1}, got ${i}`);
    return h;
  }

  async #build(): Promise<void> {
    await createNetwork(this.#switchNs, this.hosts);
    for (const h of this.hosts) this.#relays.push(await NetnsRelay.start(h.netns, join(this.#dir, `${h.name}.sock`)));
    const timeoutMs = this.#options.readyTimeoutMs ?? 30_000;
    await this.waitConnected(timeoutMs);
    const natsHosts =
      this.#options.nats === true ? this.hosts.map((h) => h.index) : this.#options.nats ? [...this.#options.nats] : [];
    for (const i of natsHosts) this.#host(i);
    if (natsHosts.length > 0) await this.#startNats(natsHosts, timeoutMs);
  }

  async #startNats(indexes: number[], timeoutMs: number): Promise<void> {
    const o = this.#options.natsOptions ?? {};
    const name = this.#options.clusterName ?? 'net';
    const routes = indexes.map((i) => `"nats-route://${this.hosts[i]!.address}:${NET_ROUTE_PORT}"`).join(', ');
    const started = await Promise.allSettled(
      indexes.map(async (i) => {
        const h = this.hosts[i]!;
        const relay = this.#relays[i]!;
        const server = await NatsServer.start({
          ...o,
          host: '0.0.0.0',
          port: NET_NATS_PORT,
          monitor: true,
          launcher: ['ip', 'netns', 'exec', h.netns],
          probe: async (port) => (await relay.probe('127.0.0.1', port, 500)) === 'ok',
          config: [
            `server_name: "${h.name}"`,
            `cluster { name: "${name}", listen: "0.0.0.0:${NET_ROUTE_PORT}", routes: [${routes}] }`,
            o.config ?? '',
          ].join('\n'),
        });
        this.#servers.set(i, server);
        return server;
      }),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const servers = indexes.map((i) => this.#servers.get(i)!);
    const monitorUrls = await Promise.all(
      indexes.map(async (i, k) => {
        const port = Number(new URL(servers[k]!.monitorUrl!).port);
        return `http://127.0.0.1:${await this.#relays[i]!.forward('127.0.0.1', port)}`;
      }),
    );
    indexes.forEach((i, k) => this.#monitorBases.set(i, monitorUrls[k]!));
    this.nats = NatsCluster.of(
      servers,
      indexes.map((i) => this.hosts[i]!.name),
      monitorUrls,
    );
    await this.nats.waitForRoutes(timeoutMs);
    await this.nats.waitForJetStream(timeoutMs);
    const reachable = await Promise.all(indexes.map((i) => this.controlNatsUrl(i)));
    await this.nats.waitForPlacement(timeoutMs, reachable);
  }

  /** The nats-server on host `i`, if it runs one. */
  server(i: number): NatsServer | undefined {
    return this.#servers.get(this.#host(i).index);
  }

  /** 'nats://<address of host i>:4222': the URL of host i's nats-server, for processes inside the network. */
  natsUrl(i: number): string {
    return `nats://${this.#host(i).address}:${NET_NATS_PORT}`;
  }

  /** URLs of every host's nats-server, in host order (for processes inside the network). */
  get natsUrls(): string[] {
    return [...this.#servers.keys()].sort((a, b) => a - b).map((i) => this.natsUrl(i));
  }

  /**
   * A URL on 127.0.0.1 for the test process's own clients that leads to host i's nats-server
   * through the control path (no fault cuts it). The server announces cluster addresses the
   * test process cannot reach: connect with `ignoreClusterUpdates`.
   */
  async controlNatsUrl(i: number): Promise<string> {
    if (!this.#servers.has(this.#host(i).index)) throw new Error(`host ${this.hosts[i]!.name} runs no nats-server`);
    return `nats://127.0.0.1:${await this.#relays[i]!.forward('127.0.0.1', NET_NATS_PORT)}`;
  }

  /** A port on 127.0.0.1 of the test process that leads to `port` on host i's loopback (control path). */
  forward(i: number, port: number): Promise<number> {
    return this.#relays[this.#host(i).index]!.forward('127.0.0.1', port);
  }

  /** Host i's nats-server's own view of the JetStream meta leader (its server name), or null. */
  async metaLeader(i: number): Promise<string | null> {
    const server = this.#servers.get(this.#host(i).index);
    const base = this.#monitorBases.get(i);
    if (!server?.running || !base) return null;
    try {
      const res = await fetch(`${base}/jsz`, { signal: AbortSignal.timeout(1000) });
      const jsz = (await res.json()) as { meta_cluster?: { leader?: string } };
      return jsz.meta_cluster?.leader || null;
    } catch {
      return null;
    }
  }

  /** Starts `command args...` inside host i (stopped by {@link stop} if still running). */
  spawn(i: number, command: string, args: readonly string[], options: SpawnOptions = {}): ManagedProcess {
    const proc = ManagedProcess.spawn('ip', ['netns', 'exec', this.#host(i).netns, command, ...args], options);
    this.#procs.add(proc);
    void proc.exited.then(() => this.#procs.delete(proc));
    return proc;
  }

  /** Starts a Node.js script inside host i with this process's Node binary. */
  node(i: number, script: string, args: readonly string[], options: SpawnOptions = {}): ManagedProcess {
    return this.spawn(i, process.execPath, [script, ...args], options);
  }

  /**
   * Whether host `from` opens a TCP connection to host `to` (its probe port, or `port`)
   * within `timeoutMs`: `ok`, `timeout` (silence: what a cut does) or `error <code>`.
   */
  probe(from: number, to: number, port = PROBE_PORT, timeoutMs = 1000): Promise<ProbeResult> {
    return this.#relays[this.#host(from).index]!.probe(this.#host(to).address, port, timeoutMs);
  }

  /** The faults in force, one line each (empty after {@link heal}). */
  get faults(): readonly string[] {
    return [...this.#faults];
  }

  async #bridgeRules(what: string, matches: string[]): Promise<void> {
    await nft(this.#switchNs, bridgeDropScript(what, matches));
    this.#faults.push(what);
  }

  /** Host i hears nothing and nobody hears host i (its own processes still talk to each other). */
  async isolate(i: number): Promise<void> {
    const h = this.#host(i);
    await this.#bridgeRules(`isolate ${h.name}`, isolateMatches(h));
  }

  /** Hosts i and j lose each other, both ways; each still reaches every other host. */
  async cut(i: number, j: number): Promise<void> {
    const [a, b] = [this.#host(i), this.#host(j)];
    if (a === b) throw new RangeError(`cut needs two different hosts, got ${a.name} twice`);
    await this.#bridgeRules(`cut ${a.name} <-> ${b.name}`, [oneWayMatch(a, b), oneWayMatch(b, a)]);
  }

  /** What host `from` sends to host `to` is dropped; what `to` sends to `from` still arrives. */
  async cutOneWay(from: number, to: number): Promise<void> {
    const [a, b] = [this.#host(from), this.#host(to)];
    if (a === b) throw new RangeError(`cutOneWay needs two different hosts, got ${a.name} twice`);
    await this.#bridgeRules(`cut ${a.name} -> ${b.name}`, [oneWayMatch(a, b)]);
  }

  /**
   * Every TCP packet to or from `port` on host i is dropped, its own processes' connections
   * included (e.g. 4222: the nats-server loses its clients and keeps its routes).
   */
  async cutPort(i: number, port: number): Promise<void> {
    const h = this.#host(i);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be 1..65535, got ${port}`);
    const what = `cut tcp port ${port} on ${h.name}`;
    await nft(h.netns, portDropScript(what, port));
    this.#faults.push(what);
  }

  /**
   * Removes every fault, then waits until every host reaches every other one again.
   * @throws Error naming the pair that still cannot reach each other after `timeoutMs`
   */
  async heal(timeoutMs = 10_000): Promise<void> {
    await flushFaults(this.#switchNs, this.hosts);
    this.#faults.length = 0;
    await this.waitConnected(timeoutMs);
  }

  /**
   * Waits until every host opens a TCP connection to every other host.
   * @throws Error naming a pair that does not, and how (silence or an error)
   */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    let last = '';
    await waitFor(
      async () => {
        for (const a of this.hosts) {
          for (const b of this.hosts) {
            const r = await this.probe(a.index, b.index, PROBE_PORT, 500);
            if (r !== 'ok') {
              last = `${a.name} cannot reach ${b.name} (${r})`;
              return false;
            }
          }
        }
        return true;
      },
      { timeoutMs, intervalMs: 100, message: 'every host to reach every other one' },
    ).catch((err: Error) => {
      throw new Error(`${last || err.message} after ${timeoutMs} ms`, { cause: err });
    });
  }

  /**
   * Stops every process it started, the nats-servers and the relays; removes namespaces, links, bridge, rules and
   * files. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.allSettled([...this.#procs].map((p) => p.stop(3000)));
    await Promise.allSettled([...this.#servers.values()].map((s) => s.stop()));
    await Promise.allSettled(this.#relays.map((r) => r.stop()));
    for (const n of [this.#switchNs, ...this.hosts.map((h) => h.netns)]) destroyNetnsSync(n);
    rmSync(this.#dir, { recursive: true, force: true });
    this.#unregister();
  }

  /** Same as {@link stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
