/**
 * A real nats-server for tests: a free loopback port, JetStream in a temporary directory,
 * stopped afterwards (also when the test fails, through an exit hook).
 *
 * ```ts
 * await using server = await NatsServer.start();
 * const bus = await NatsBus.connect({ servers: server.url });
 * await server.restart(); // same port, same JetStream store: streams and KV survive
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './cleanup.js';
import { natsServerBinary, readVersion } from './nats-binary.js';
import { waitFor } from './wait.js';

/** Options of {@link NatsServer.start}. */
export interface NatsServerOptions {
  /** Enable JetStream with a store directory inside the server's temporary directory. @default true */
  jetstream?: boolean;
  /** Extra lines appended to the generated configuration file (e.g. `authorization { ... }`). */
  config?: string;
  /** Extra lines inside the generated `jetstream { }` block (e.g. `sync_interval: always`). */
  jetstreamConfig?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** Client port; 0 lets the server pick a free one (`listen: 127.0.0.1:-1`). @default 0 */
  port?: number;
  /** Also serve HTTP monitoring (`/varz`, `/jsz`) on a free loopback port. @default false */
  monitor?: boolean;
  /**
   * The nats-server program. @default {@link natsServerBinary}: `BACKBEAT_NATS_SERVER`, the pinned build, or 2.10+ on
   * PATH
   */
  binary?: string;
  /** How long to wait for the server to accept connections. @default 10000 */
  startTimeoutMs?: number;
  /** Wait this long after SIGTERM before SIGKILL when stopping. @default 3000 */
  stopGraceMs?: number;
  /** Address the client port listens on. @default '127.0.0.1' */
  host?: string;
  /** Command prefix the server runs under, e.g. `['ip', 'netns', 'exec', name]` (which execs it: same pid). */
  launcher?: readonly string[];
  /** Readiness check of the client port. @default a TCP connect to 127.0.0.1:port ({@link canConnect}) */
  probe?: (port: number) => Promise<boolean>;
}

const checkedBinaries = new Set<string>();

/** The program to run: the option, else the project's rule. @throws Error in one line when none runs */
function binaryOf(options: NatsServerOptions): string {
  const binary = options.binary ?? natsServerBinary().path;
  if (checkedBinaries.has(binary)) return binary;
  if (!readVersion(binary)) throw new Error(`nats-server '${binary}' does not run (\`${binary} --version\` failed)`);
  checkedBinaries.add(binary);
  return binary;
}

interface Ports {
  nats?: string[];
  monitoring?: string[];
}

/** A running nats-server process on 127.0.0.1. */
export class NatsServer {
  /** The temporary directory holding the configuration, ports file and JetStream store. */
  readonly dir: string;
  readonly options: Readonly<NatsServerOptions>;
  #proc: ChildProcess | undefined;
  #stderr = '';
  #unregister: () => void = () => {};
  #port = 0;
  #monitorPort = 0;
  #paused = false;

  private constructor(dir: string, options: NatsServerOptions) {
    this.dir = dir;
    this.options = options;
  }

  /**
   * Starts a server and waits for its ports file and a successful TCP connect.
   * @throws Error with the last lines of the server log when it does not start, or with the
   *   install hint when nats-server is missing
   */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    binaryOf(options);
    const server = new NatsServer(mkdtempSync(join(tmpdir(), 'backbeat-nats-')), options);
    try {
      await server.#launch(options.port ?? 0);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** The client port. */
  get port(): number {
    return this.#port;
  }

  /** 'nats://127.0.0.1:PORT' */
  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  /** 'http://127.0.0.1:PORT' of the monitoring endpoint, when started with `monitor: true`. */
  get monitorUrl(): string | undefined {
    return this.#monitorPort ? `http://127.0.0.1:${this.#monitorPort}` : undefined;
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.running ? this.#proc?.pid : undefined;
  }

  /** True while the server process is alive (a SIGSTOPped server counts as alive). */
  get running(): boolean {
    const p = this.#proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** The server's log (its stderr), the last 64 KiB. */
  get log(): string {
    return this.#stderr;
  }

  #configText(port: number, portsDir: string): string {
    const o = this.options;
    return [
      `listen: "${o.host ?? '127.0.0.1'}:${port === 0 ? -1 : port}"`,
      `ports_file_dir: "${portsDir}"`,
      o.monitor ? `http: "127.0.0.1:${this.#monitorPort || -1}"` : '',
      o.jetstream === false ? '' : `jetstream { store_dir: "${join(this.dir, 'js')}"\n${o.jetstreamConfig ?? ''} }`,
      o.config ?? '',
    ].join('\n');
  }

  async #launch(port: number): Promise<void> {
    const portsDir = join(this.dir, 'ports');
    rmSync(portsDir, { recursive: true, force: true });
    mkdirSync(portsDir, { recursive: true });
    const conf = join(this.dir, 'nats.conf');
    writeFileSync(conf, this.#configText(port, portsDir));
    const binary = binaryOf(this.options);
    const [command, ...prefix] = [...(this.options.launcher ?? []), binary];
    const proc = spawn(command!, [...prefix, '-c', conf, ...(this.options.args ?? [])], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#proc = proc;
    this.#stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-64 * 1024);
    });
    proc.once('error', (err) => {
      this.#stderr += `\n${err.message}`;
    });
    const dir = this.dir;
    this.#unregister = onProcessExit(() => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    // A server that exits (bad configuration, port taken) fails the start at once.
    let onExit: (reason: Error) => void = () => {};
    const exited = new Promise<never>((_, reject) => (onExit = reject));
    exited.catch(() => {});
    const exitListener = (code: number | null, sig: NodeJS.Signals | null) =>
      onExit(new Error(`nats-server exited (${code ?? sig})`));
    proc.once('exit', exitListener);
    try {
      const ports = await Promise.race([
        exited,
        waitFor(
          () => {
            const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
            if (!file) return null;
            const info = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as Ports;
            return info.nats?.[0] ? info : null;
          },
          { timeoutMs, message: 'the nats-server ports file' },
        ),
      ]);
      this.#port = Number(new URL(ports.nats![0]!).port);
      if (ports.monitoring?.[0]) this.#monitorPort = Number(new URL(ports.monitoring[0]).port);
      const probe = this.options.probe ?? canConnect;
      await Promise.race([
        exited,
        waitFor(() => probe(this.#port), { timeoutMs, message: `a TCP connect to nats-server on port ${this.#port}` }),
      ]);
    } catch (err) {
      // Let the last log lines arrive before quoting them.
      await new Promise((r) => setTimeout(r, 50));
      const tail = this.#stderr.trimEnd().split('\n').slice(-15).join('\n');
      throw new Error(
        `nats-server did not start: ${(err as Error).message}\n--- nats-server log (last lines) ---\n${tail}`,
        { cause: err },
      );
    } finally {
      proc.off('exit', exitListener);
    }
  }

  /** Sends a signal to the server (SIGSTOP and SIGCONT simulate a stalled broker). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    this.#proc!.kill(sig);
    if (sig === 'SIGSTOP') this.#paused = true;
    if (sig === 'SIGCONT') this.#paused = false;
  }

  /** True between a SIGSTOP and the SIGCONT: the process lives but answers nothing. */
  get paused(): boolean {
    return this.running && this.#paused;
  }

  /**
   * kill -9: the process dies at once, without flushing or leaving its cluster; the
   * directory stays, so {@link restart} brings the node back with what it had written.
   * Idempotent.
   */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await exited;
    }
    this.#proc = undefined;
    this.#paused = false;
    this.#unregister();
  }

  /**
   * Stops the process (SIGTERM, then SIGKILL after `stopGraceMs`) and keeps the directory,
   * so {@link restart} brings back the same JetStream state. Idempotent.
   */
  async halt(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGCONT'); // a stopped process would not act on SIGTERM
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), this.options.stopGraceMs ?? 3000);
      await exited;
      clearTimeout(timer);
    }
    this.#proc = undefined;
    this.#paused = false;
    this.#unregister();
  }

  /**
   * Restarts on the same port with the same JetStream store, so streams and KV survive.
   * Also starts a server that was halted or killed.
   * @throws Error with the log tail when the server does not come back
   */
  async restart(): Promise<void> {
    await this.halt();
    await this.#launch(this.#port);
  }

  /** Stops the server and removes its temporary directory. Idempotent. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Same as {@link stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
