/**
 * A real nats-server for tests: free loopback port, JetStream in a temporary directory,
 * stopped afterwards (also when the test fails, through an exit hook).
 *
 * ```ts
 * await using server = await NatsServer.start();
 * const bus = await NatsBus.connect({ servers: server.url });
 * ```
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './cleanup.js';
import { waitFor } from './wait.js';

/** Options of {@link NatsServer.start}. */
export interface NatsServerOptions {
  /** Enable JetStream with a temporary store directory. @default true */
  jetstream?: boolean;
  /** Extra lines for the server's configuration file. */
  config?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** Port to listen on; 0 lets the server choose a free one. @default 0 */
  port?: number;
}

const BINARY = process.env.NATS_SERVER_BIN ?? 'nats-server';

function assertInstalled(): void {
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `nats-server is not installed: run \`apt-get install nats-server\` (Debian) or \`npm test\`, which installs it when run as root.`,
    );
  }
}

/** A running nats-server process. */
export class NatsServer {
  #proc: ChildProcess | undefined;
  #stderr = '';
  #unregister: () => void = () => {};
  readonly dir: string;
  readonly options: NatsServerOptions;
  port = 0;

  private constructor(dir: string, options: NatsServerOptions) {
    this.dir = dir;
    this.options = options;
  }

  /** Starts a server and waits until it accepts TCP connections. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    assertInstalled();
    const server = new NatsServer(mkdtempSync(join(tmpdir(), 'backbeat-nats-')), options);
    try {
      await server.#launch(options.port ?? 0);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** 'nats://127.0.0.1:PORT' */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The server's process id, while it runs. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** What the server wrote to stderr (its log). */
  get log(): string {
    return this.#stderr;
  }

  async #launch(port: number): Promise<void> {
    const portsDir = join(this.dir, 'ports');
    rmSync(portsDir, { recursive: true, force: true });
    const js = this.options.jetstream === false ? '' : `jetstream { store_dir: "${join(this.dir, 'js')}" }`;
    const conf = join(this.dir, 'nats.conf');
    writeFileSync(conf, [`listen: "127.0.0.1:${port === 0 ? -1 : port}"`, `ports_file_dir: "${portsDir}"`, js, this.options.config ?? ''].join('\n'));
    mkdirSync(portsDir, { recursive: true });
    const proc = spawn(BINARY, ['-c', conf, ...(this.options.args ?? [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    this.#stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-64 * 1024);
    });
    this.#unregister = onProcessExit(() => proc.kill('SIGKILL'));
    let exited = false;
    proc.once('exit', () => (exited = true));
    try {
      this.port = await waitFor(
        () => {
          if (exited) throw new Error('nats-server exited');
          const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
          if (!file) return 0;
          const info = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats?: string[] };
          const url = info.nats?.[0];
          return url ? Number(new URL(url).port) : 0;
        },
        { timeoutMs: 10_000, message: 'the nats-server ports file' },
      );
      await waitFor(() => canConnect(this.port), { timeoutMs: 10_000, message: `nats-server on port ${this.port}` });
    } catch (err) {
      throw new Error(`nats-server did not start: ${(err as Error).message}\n${this.#stderr.split('\n').slice(-15).join('\n')}`);
    }
  }

  /** Sends a signal to the server (SIGSTOP and SIGCONT to simulate a stalled broker). */
  signal(sig: NodeJS.Signals): void {
    this.#proc?.kill(sig);
  }

  /** Stops the server, keeping its JetStream directory for {@link restart}. */
  async halt(): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    this.#unregister();
  }

  /** Restarts on the same port with the same JetStream store, so streams and KV survive. */
  async restart(): Promise<void> {
    await this.halt();
    await this.#launch(this.port);
  }

  /** Stops the server and removes its temporary directory. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
