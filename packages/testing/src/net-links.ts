/**
 * The commands that make NetCluster's network and its faults: network namespaces joined by veth
 * pairs to a bridge in a namespace of its own, one nftables table per namespace, and the DROP
 * rules of each fault (never reject: TCP sees silence, as in a real partition).
 */
import { run } from './netns.js';

/** One host of the network. */
export interface NetHost {
  /** 0-based index, as the methods take it. */
  readonly index: number;
  /** 'h1', 'h2' ... (also the nats-server's `server_name`). */
  readonly name: string;
  /** The network namespace's name. */
  readonly netns: string;
  /** The host's address on the test network, e.g. '10.251.0.1'. */
  readonly address: string;
}

/** The test network: 10.251.0.0/24, which exists only inside the namespaces. */
const SUBNET = '10.251.0';

/** The namespace of the bridge of the network named `prefix`. */
export const switchNetns = (prefix: string): string => `${prefix}-sw`;

/** The `count` hosts of the network named `prefix`: h1 at 10.251.0.1, h2 at 10.251.0.2 ... */
export function netHosts(prefix: string, count: number): NetHost[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    name: `h${index + 1}`,
    netns: `${prefix}-h${index + 1}`,
    address: `${SUBNET}.${index + 1}`,
  }));
}

/** Runs an nftables script inside `netns`. */
export async function nft(netns: string, script: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], script);
}

/**
 * Makes the bridge namespace `sw` and each host's namespace, veth link, address and nftables
 * table (faults are rules added to those tables).
 * @throws Error saying that the machine cannot make namespaces when the first one is refused
 */
export async function createNetwork(sw: string, hosts: readonly NetHost[]): Promise<void> {
  try {
    await run('ip', ['netns', 'add', sw]);
  } catch (err) {
    throw new Error(`NetCluster cannot make network namespaces: ${(err as Error).message}`, { cause: err });
  }
  await run('ip', ['-n', sw, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  await run('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  await nft(sw, 'table bridge bb { chain filter { type filter hook forward priority 0; policy accept; }; }');
  for (const h of hosts) {
    const port = `v${h.name}`;
    await run('ip', ['netns', 'add', h.netns]);
    await run('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
    await run('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0']);
    await run('ip', ['-n', sw, 'link', 'set', port, 'up']);
    await run('ip', ['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
    await nft(h.netns, 'table inet bb { chain out { type filter hook output priority 0; policy accept; }; }');
  }
}

/** The bridge rules (nftables script) that drop IP packets matching each of `matches`, named `what`. */
export function bridgeDropScript(what: string, matches: readonly string[]): string {
  return matches.map((m) => `add rule bridge bb filter ${m} ether type ip drop comment "${what}"`).join('\n');
}

/** Matches of what host `a` sends (`iifname`) and receives (`oifname`) on the bridge. */
export const isolateMatches = (a: NetHost): string[] => [`iifname "v${a.name}"`, `oifname "v${a.name}"`];

/** Matches of what host `a` sends to host `b`. */
export const oneWayMatch = (a: NetHost, b: NetHost): string => `iifname "v${a.name}" oifname "v${b.name}"`;

/** The host rules (nftables script) that drop every TCP packet to or from `port`, named `what`. */
export function portDropScript(what: string, port: number): string {
  return [`tcp dport ${port}`, `tcp sport ${port}`]
    .map((m) => `add rule inet bb out ${m} drop comment "${what}"`)
    .join('\n');
}

/** Removes every fault rule of the bridge `sw` and of each host. */
export async function flushFaults(sw: string, hosts: readonly NetHost[]): Promise<void> {
  await nft(sw, 'flush chain bridge bb filter');
  for (const h of hosts) await nft(h.netns, 'flush chain inet bb out');
}
