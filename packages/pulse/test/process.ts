import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { ManagedProcess, NatsServer } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';

/** The built `backbeat` CLI. */
export const pulseBin = fileURLToPath(new URL('../../cli/bin/backbeat.js', import.meta.url));
const bin = pulseBin;

/** A `backbeat pulse` process and its admin URL. */
export interface PulseProcess {
  readonly proc: ManagedProcess;
  readonly admin: string;
  readonly nodeId: string;
}

/**
 * libfaketime's preload library (Debian `faketime`), or undefined when it is not installed.
 * Preloaded straight into node (the `faketime` program forks, so a test could not signal node).
 */
export function libfaketime(): string | undefined {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    const lib = join(dir, 'faketime', 'libfaketime.so.1');
    if (existsSync(lib)) return lib;
  }
  return undefined;
}

/**
 * Starts `backbeat pulse` (the built CLI) at `bpm` (default 120) and waits for its admin API.
 * `env` is added to the process's environment (e.g. LD_PRELOAD and FAKETIME for a skewed clock);
 * `onSpawn` gets the process as soon as it is spawned.
 */
export async function startPulseProcess(
  nats: string,
  cluster: string,
  nodeId: string,
  extra: string[] = [],
  env: Record<string, string> = {},
  bpm = 120,
  onSpawn?: (proc: ManagedProcess) => void,
): Promise<PulseProcess> {
  const args = [
    'pulse',
    '--cluster',
    cluster,
    '--node-id',
    nodeId,
    '--nats',
    nats,
    '--admin-port',
    '0',
    '--bpm',
    String(bpm),
    '--max-bpm',
    String(bpm),
    ...extra,
  ];
  const proc = ManagedProcess.node(bin, args, { env: { BACKBEAT_LOG_FORMAT: 'json', ...env } });
  onSpawn?.(proc);
  const m = await proc.waitForOutput(/"admin":"(http:\/\/127\.0\.0\.1:\d+)"/, 15_000);
  return { proc, admin: m[1]!, nodeId };
}

/** GET a JSON endpoint. */
export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const r = await fetch(url);
  return (await r.json()) as T;
}

/** What {@link usePulseProcesses} gives a test file. */
export interface PulseProcessFixture {
  /** The file's nats-server (valid once beforeAll ran). */
  readonly server: NatsServer;
  /** A connection of the test's own, to watch the wire. */
  readonly observer: NatsBus;
  /**
   * Starts `backbeat pulse` on the file's server at the fixture's tempo (see {@link startPulseProcess}); stopped after
   * the file.
   */
  start(cluster: string, nodeId: string, extra?: string[], env?: Record<string, string>): Promise<PulseProcess>;
  /** Stops `proc` after the file (a process the test started itself). */
  track(proc: ManagedProcess): ManagedProcess;
}

/**
 * One nats-server and one observer connection for a test file of pulse processes at `bpm`
 * (default 120; a test where the tempo is not the point runs faster ones); every
 * process started through it, the observer and the server are stopped after the file, also
 * when a test fails.
 */
export function usePulseProcesses(options: { observerReconnectMs?: number; bpm?: number } = {}): PulseProcessFixture {
  let server: NatsServer | undefined;
  let observer: NatsBus | undefined;
  const procs: ManagedProcess[] = [];
  beforeAll(async () => {
    server = await NatsServer.start();
    observer = await NatsBus.connect({
      servers: server.url,
      ...(options.observerReconnectMs !== undefined ? { reconnectTimeWaitMs: options.observerReconnectMs } : {}),
    });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await observer?.close();
    await server?.stop();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the pulse process fixture is used before beforeAll ran');
    return v;
  };
  return {
    get server() {
      return ready(server);
    },
    get observer() {
      return ready(observer);
    },
    async start(cluster, nodeId, extra = [], env = {}) {
      // Tracked from the spawn on, so one that never gets ready is stopped too.
      return startPulseProcess(ready(server).url, cluster, nodeId, extra, env, options.bpm, (proc) => procs.push(proc));
    },
    track(proc) {
      procs.push(proc);
      return proc;
    },
  };
}
