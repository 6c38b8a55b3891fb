/**
 * The fleet the chaos suite runs faults against: a 3-node NatsCluster (real nats-server
 * processes on free loopback ports), two `backbeat pulse`, two `backbeat reverb` and one
 * `backbeat agent --count N` process, all given the three URLs and BACKBEAT_REPLICAS=3, so
 * the services create the cluster's buckets and streams at 3 replicas themselves. Every process it starts is stopped by
 * stop(), also on failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ManagedProcess, NatsCluster } from '@backbeat/testing';
import {
  decodeLeaseRecord,
  dlqStreamConfig,
  NatsBus,
  reportStreamConfig,
  STATE_KEYS,
  statusStreamConfig,
} from '@backbeat/transport';

export const CLI = fileURLToPath(new URL('../../packages/cli/bin/backbeat.js', import.meta.url));

/** Settings of a fleet. */
export const DEFAULTS = Object.freeze({
  clusterId: 'chaos',
  bpm: 60,
  bar: 4,
  leaseTtlMs: 2000,
  agents: 4,
  replicas: 3,
});

/**
 * Starts the cluster and the fleet (the services one after the other, or all at once with
 * `concurrent`).
 * @param {Partial<typeof DEFAULTS> & { log?: (line: string) => void, reverbs?: number, pulses?: number, concurrent?:
 * boolean, beforeServices?: (fleet: Fleet) => Promise<void> | void }} options
 */
export async function startFleet(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const log = options.log ?? (() => {});
  const fleet = new Fleet(o, log);
  try {
    await fleet.start(options.pulses ?? 2, options.reverbs ?? 2, {
      concurrent: options.concurrent,
      beforeServices: options.beforeServices,
    });
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}

class Fleet {
  constructor(o, log) {
    this.o = o;
    this.log = log;
    this.dir = mkdtempSync(join(tmpdir(), 'backbeat-chaos-'));
    /** @type {NatsCluster | undefined} */
    this.cluster = undefined;
    /** @type {NatsBus | undefined} */
    this.bus = undefined;
    /** @type {Map<string, { proc: ManagedProcess, args: string[] }>} */
    this.procs = new Map();
    /** Processes the runner killed and has not restarted yet. */
    this.killed = new Set();
    /** HTTP port of each reverb. */
    this.httpPorts = new Map();
    /** When a concurrent start spawned its services. */
    this.startedAt = 0;
  }

  get urls() {
    return this.cluster.urls;
  }

  /**
   * Starts the cluster, then the services: one after the other, or (`concurrent`) all at the
   * same instant, as an operator's orchestrator does. `beforeServices` runs once the cluster is
   * up, before the first service starts (the fresh-start row connects its recorder there).
   */
  async start(pulses, reverbs, { concurrent = false, beforeServices } = {}) {
    this.cluster = await NatsCluster.start(3, { name: 'chaos' });
    this.log(`nats cluster up: ${this.urls.join(', ')}`);
    this.bus = await NatsBus.connect({
      servers: this.urls,
      name: 'chaos-runner',
      reconnectTimeWaitMs: 100,
      pingIntervalMs: 1000,
    });
    await beforeServices?.(this);
    // The services create every bucket and stream themselves, with BACKBEAT_REPLICAS copies
    // (replicas() reads back what they made).
    if (concurrent) {
      this.startedAt = Date.now();
      for (let i = 1; i <= pulses; i++) await this.startPulse(`p${i}`);
      for (let i = 1; i <= reverbs; i++) await this.startReverb(`r${i}`);
      return;
    }
    for (let i = 1; i <= pulses; i++) {
      await this.startPulse(`p${i}`);
      if (i < pulses || reverbs > 0) await this.proc(`p${i}`).waitForOutput(/pulse started/, 30_000);
    }
    for (let i = 1; i <= reverbs; i++) {
      await this.startReverb(`r${i}`);
      if (i < reverbs) await this.proc(`r${i}`).waitForOutput(/reverb started/, 30_000);
    }
    if (this.o.agents > 0) this.spawn('agents', ['agent', '--count', String(this.o.agents)]);
  }

  /**
   * The replica count of each bucket and stream of the cluster, read back from the server
   * (null for one that does not exist yet).
   */
  async replicas() {
    const jsm = await this.bus.jsm();
    const { clusterId } = this.o;
    const names = [
      `KV_backbeat_${clusterId}_lease`,
      `KV_backbeat_${clusterId}_state`,
      `KV_backbeat_${clusterId}_presence`,
      statusStreamConfig(clusterId).name,
      reportStreamConfig(clusterId).name,
      dlqStreamConfig(clusterId).name,
    ];
    const out = {};
    for (const n of names)
      out[n] = await jsm.streams.info(n).then(
        (i) => i.config.num_replicas,
        () => null,
      );
    return out;
  }

  common() {
    return ['--cluster', this.o.clusterId, '--nats', this.urls.join(','), '--log-level', 'info'];
  }

  spawn(name, args) {
    const full = [...args, ...this.common()];
    const proc = ManagedProcess.node(CLI, full, { env: { BACKBEAT_REPLICAS: String(this.o.replicas) } });
    this.procs.set(name, { proc, args: full });
    return proc;
  }

  async startPulse(id) {
    const port = await freePort();
    const { bpm, bar, leaseTtlMs } = this.o;
    this.spawn(id, [
      'pulse',
      '--node-id',
      id,
      '--bpm',
      String(bpm),
      '--max-bpm',
      String(bpm * 2),
      '--bar',
      String(bar),
      '--lease-ttl',
      String(leaseTtlMs),
      '--admin-port',
      String(port),
      '--data-dir',
      join(this.dir, id),
    ]);
  }

  async startReverb(id) {
    const port = await freePort();
    this.httpPorts.set(id, port);
    this.spawn(id, [
      'reverb',
      '--node-id',
      id,
      '--http-port',
      String(port),
      '--data-dir',
      join(this.dir, id),
      '--signatures',
      'off',
    ]);
  }

  /** The process named `id` (p1, p2, r1, r2, agents). */
  proc(id) {
    const p = this.procs.get(id);
    if (!p) throw new Error(`no process '${id}'`);
    return p.proc;
  }

  /** kill -9 of a process (or another signal); restart() brings it back with the same flags. */
  kill(id, signal = 'SIGKILL') {
    if (signal === 'SIGKILL') this.killed.add(id);
    this.proc(id).kill(signal);
  }

  /**
   * Waits (up to `timeoutMs`) until every pulse and reverb process that runs has said it
   * started, so a fault never lands on a service still starting.
   * @throws Error naming the process that did not start
   */
  async waitReady(timeoutMs = 30_000) {
    for (const [id, { proc }] of this.procs) {
      if (!proc.running || id === 'agents') continue;
      await proc.waitForOutput(id.startsWith('p') ? /pulse started/ : /reverb started/, timeoutMs);
    }
  }

  /** Processes that exited without being killed by the runner, each with its last output lines. */
  dead() {
    return [...this.procs]
      .filter(([id, { proc }]) => !proc.running && !this.killed.has(id))
      .map(([id, { proc }]) => ({ id, tail: (proc.stdout + proc.stderr).trimEnd().split('\n').slice(-3).join(' / ') }));
  }

  /** Starts process `id` again with the flags it had (after it was killed). */
  async restart(id) {
    const p = this.procs.get(id);
    if (p.proc.running) await p.proc.stop();
    await p.proc.exited;
    const proc = ManagedProcess.node(CLI, p.args, { env: { BACKBEAT_REPLICAS: String(this.o.replicas) } });
    this.procs.set(id, { proc, args: p.args });
    this.killed.delete(id);
  }

  /** The node id in the lease now, or null (no leader, or the KV cannot answer). */
  async leader() {
    try {
      const kv = await this.bus.kv(`backbeat_${this.o.clusterId}_lease`, { create: false });
      const e = await kv.get(STATE_KEYS.leader);
      return e ? decodeLeaseRecord(e.value).node_id : null;
    } catch {
      return null;
    }
  }

  /** Index of the NATS node leading the lease bucket's stream. */
  leaseStreamLeader() {
    return this.cluster.streamLeader(`KV_backbeat_${this.o.clusterId}_lease`, 20_000);
  }

  /**
   * Waits (at most `timeoutMs`) for the placed steady state the leading pulse keeps: the beat stream led by
   * another node than the lease stream (docs/spec.md §7 Election, terms and fencing, "Stream placement"), so
   * one node kill never costs both elections. Returns the ms it waited.
   */
  async placed(timeoutMs = 30_000) {
    const t0 = Date.now();
    const beat = `BACKBEAT_${this.o.clusterId}_BEAT`;
    for (;;) {
      const lease = await this.leaseStreamLeader();
      const led = await this.cluster.streamLeader(beat, 20_000);
      if (lease !== led) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`the beat and lease streams still share leader ${led}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The last lines of every process's output (for a failure). */
  tails(lines = 8) {
    return [...this.procs]
      .map(
        ([id, { proc }]) =>
          `--- ${id} (${proc.running ? 'running' : 'exited'}) ---\n` +
          (proc.stdout + proc.stderr).trimEnd().split('\n').slice(-lines).join('\n'),
      )
      .join('\n');
  }

  /** Stops every process, the runner's bus and the cluster; removes the data directories. Idempotent. */
  async stop() {
    await Promise.allSettled([...this.procs.values()].map(({ proc }) => proc.stop(3000)));
    await this.bus?.close().catch(() => {});
    await this.cluster?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
