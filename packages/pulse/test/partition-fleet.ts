/**
 * The fleet of the partition tests (partition.test.ts), started as the partition chaos run starts
 * its pulses (scripts/chaos/partition.mjs): three hosts of their own (NetCluster: network
 * namespaces on a bridge, faults that drop packets), one nats-server per host in one JetStream
 * cluster, and `backbeat pulse` p1 on h1 and p2 on h2 (the built CLI), each connected to its own
 * host's NATS node only, `--replicas 3`, lease TTL 2 s, 120 BPM. Nothing else runs.
 *
 * The test process cannot reach the hosts' addresses (they exist only inside the namespaces), so
 * each host's observer is a NatsBus connection of the test process to that host's node through
 * the control path (a relay inside the host, on its loopback: no fault touches it). It receives
 * what a client on that host receives, in the order that node delivers it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetCluster, waitFor, type ManagedProcess } from '@backbeat/testing';
import { clusterNames, decodeLeaseRecord, NatsBus, STATE_KEYS, type LeaseRecord } from '@backbeat/transport';
import { collectFrames, slotNo, type SeenFrame } from './helpers.js';
import { pulseBin } from './process.js';

export const CLUSTER = 'partest';
export const TTL_MS = 2000;
export const BPM = 120;
/** The pulses and the host each runs on. */
const PULSE_HOSTS: Readonly<Record<string, number>> = { p1: 0, p2: 1 };
/** The host that runs no pulse: always on the majority side of the faults here. */
export const QUIET_HOST = 2;

/** The three streams on the beat's path (docs/spec.md §7 Election, terms and fencing, "Stream placement"). */
export const STREAMS = Object.freeze({
  lease: `KV_${clusterNames(CLUSTER).leaseBucket}`,
  state: `KV_${clusterNames(CLUSTER).stateBucket}`,
  beat: `BACKBEAT_${CLUSTER}_BEAT`,
});

/** One host's observer: every BeatFrame its node delivered, in arrival order. */
export interface HostObserver {
  readonly host: number;
  readonly frames: SeenFrame[];
  readonly invalid: string[];
}

/** The pulse holding the lease. */
export interface LeaderSeen {
  readonly id: string;
  readonly host: number;
  readonly term: number;
}

export const now = (): number => performance.timeOrigin + performance.now();
const slotOf = (f: SeenFrame): number => slotNo(f.frame);

/** Three hosts, two pulses, three observers; {@link stop} removes all of it. */
export class PartitionFleet {
  readonly net: NetCluster;
  readonly observers: HostObserver[] = [];
  readonly pulses = new Map<string, ManagedProcess>();
  readonly #buses: NatsBus[] = [];
  readonly #stops: (() => void)[] = [];
  readonly #dir: string;
  #admin: NatsBus | undefined;
  /** When the beat was first steady on every host. */
  #steadySince: number | undefined;

  private constructor(net: NetCluster) {
    this.net = net;
    this.#dir = mkdtempSync(join(tmpdir(), 'backbeat-partest-'));
  }

  /**
   * Starts the network, the observers and both pulses (p1 first, so it leads), and waits until
   * every observer receives frames. Whatever started is stopped when a step fails.
   */
  static async start(): Promise<PartitionFleet> {
    const net = await NetCluster.start({ hosts: 3, nats: true, clusterName: CLUSTER });
    const fleet = new PartitionFleet(net);
    try {
      await fleet.#startAll();
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  async #startAll(): Promise<void> {
    for (const h of this.net.hosts) {
      const bus = await this.#controlBus(h.index, `partest-observer-${h.name}`);
      const seen = collectFrames(bus, CLUSTER);
      this.#stops.push(seen.stop);
      this.observers.push({ host: h.index, frames: seen.frames, invalid: seen.invalid });
    }
    this.#admin = await this.#controlBus(QUIET_HOST, 'partest-admin');
    for (const [id, host] of Object.entries(PULSE_HOSTS)) {
      const proc = this.net.node(host, pulseBin, this.#pulseArgs(id, host), { env: { BACKBEAT_LOG_FORMAT: 'json' } });
      this.pulses.set(id, proc);
      await proc.waitForOutput(/pulse started/, 30_000);
    }
    await this.steady(30_000);
  }

  #pulseArgs(id: string, host: number): string[] {
    return [
      'pulse',
      '--cluster',
      CLUSTER,
      '--node-id',
      id,
      '--nats',
      this.net.natsUrl(host),
      '--replicas',
      '3',
      '--bpm',
      String(BPM),
      '--max-bpm',
      String(BPM * 2),
      '--bar',
      '4',
      '--lease-ttl',
      String(TTL_MS),
      '--admin-port',
      '9100',
      '--data-dir',
      join(this.#dir, id),
      '--log-level',
      'info',
    ];
  }

  async #controlBus(host: number, name: string): Promise<NatsBus> {
    const bus = await NatsBus.connect({
      servers: [await this.net.controlNatsUrl(host)],
      name,
      reconnectTimeWaitMs: 100,
      pingIntervalMs: 1000,
    });
    this.#buses.push(bus);
    return bus;
  }

  get #bus(): NatsBus {
    if (!this.#admin) throw new Error('the partition fleet is not started');
    return this.#admin;
  }

  /** The lease record as the quiet host's node answers, or null (none, or no answer within 1 s). */
  async lease(): Promise<LeaseRecord | null> {
    try {
      const kv = await this.#bus.kv(clusterNames(CLUSTER).leaseBucket, { create: false, timeoutMs: 1000 });
      const e = await kv.get(STATE_KEYS.leader);
      return e ? decodeLeaseRecord(e.value) : null;
    } catch {
      return null;
    }
  }

  /** A pulse's process, by node id. */
  process(id: string): ManagedProcess {
    const p = this.pulses.get(id);
    if (!p) throw new Error(`no pulse '${id}'`);
    return p;
  }

  /** Index of the host whose node leads `stream` now, or undefined (no leader known). */
  async streamLeaderHost(stream: string): Promise<number | undefined> {
    const name = (await this.net.nats!.streamCluster(stream))?.leader;
    const i = this.net.hosts.findIndex((h) => h.name === name);
    return i >= 0 ? i : undefined;
  }

  /**
   * Moves `stream`'s Raft leader onto host `host`: step-downs with that host as the preferred
   * peer (`$JS.API.STREAM.LEADER.STEPDOWN.<stream>`), at most 8, each once every copy is current
   * (a copy that is catching up, e.g. after a heal, is refused as the preferred peer) and each
   * followed by a bounded wait for a leader. Returns the host that leads it afterwards and what
   * the step-downs were answered (the caller asserts).
   */
  async placeStream(stream: string, host: number): Promise<{ host: number | undefined; answers: string[] }> {
    const preferred = this.net.hosts[host]!.name;
    const body = new TextEncoder().encode(JSON.stringify({ placement: { preferred } }));
    const answers: string[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      await this.net.nats!.waitForStreamCurrent(stream, 3, 20_000);
      const before = await this.streamLeaderHost(stream);
      if (before === host) break;
      const subject = `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`;
      answers.push(
        await this.#bus.request(subject, body, { timeoutMs: 3000 }).then(
          (m) => new TextDecoder().decode(m.data),
          (err: Error) => err.message,
        ),
      );
      // The next look only once the leader moved (the monitoring view can lag the step-down's answer).
      await waitFor(() => this.streamLeaderHost(stream).then((i) => i !== undefined && i !== before), {
        timeoutMs: 15_000,
        intervalMs: 100,
        message: `a new leader for ${stream}`,
      }).catch(() => undefined);
    }
    return { host: await this.streamLeaderHost(stream), answers };
  }

  /**
   * Waits until both pulses run, a pulse holds the lease, every observer received a frame of the
   * lease's term in the last second, and every observer has caught up: it received every slot
   * that the quiet host's observer (never cut) received from the first steady beat to a second
   * ago. After a heal, frames that the beat stream republished towards a cut host while it was
   * cut are still held in the routes for a while (TCP retransmits with backoff) and arrive in a
   * burst, seconds later: the next fault waits for them.
   */
  async steady(timeoutMs = 20_000): Promise<LeaderSeen> {
    return waitFor(
      async () => {
        for (const [id, p] of this.pulses) if (!p.running) throw new Error(`pulse ${id} exited: ${tail(p)}`);
        const rec = await this.lease();
        const host = rec ? PULSE_HOSTS[rec.node_id] : undefined;
        if (!rec || host === undefined) return null;
        const t = now();
        const fresh = this.observers.every((o) => {
          const last = o.frames.at(-1);
          return last !== undefined && last.term === rec.term && t - last.at < 1000;
        });
        if (!fresh) return null;
        this.#steadySince ??= t;
        const since = this.#steadySince;
        const want = this.observers[QUIET_HOST]!.frames.filter((f) => f.at >= since && f.at <= t - 1000).map(slotOf);
        const caughtUp = this.observers.every((o) => {
          const seen = new Set(o.frames.map(slotOf));
          return want.every((s) => seen.has(s));
        });
        return caughtUp ? { id: rec.node_id, host, term: rec.term } : null;
      },
      { timeoutMs, intervalMs: 200, message: 'a steady beat on every host, every host caught up' },
    );
  }

  /** Stops the pulses, the observers, the nats-servers and the network; removes the data. Idempotent. */
  async stop(): Promise<void> {
    for (const s of this.#stops.splice(0)) s();
    await Promise.allSettled([...this.pulses.values()].map((p) => p.stop(3000)));
    await Promise.allSettled(this.#buses.splice(0).map((b) => b.close()));
    await this.net.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The last lines a process printed, for an error message. */
export function tail(p: ManagedProcess, lines = 5): string {
  return (p.stdout + p.stderr).trimEnd().split('\n').slice(-lines).join(' / ');
}
