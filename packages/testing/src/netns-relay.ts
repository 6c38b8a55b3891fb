/**
 * The control path into a network namespace, which no network fault touches: a small Node
 * program runs inside the namespace and listens on a Unix socket (the file system is shared
 * across namespaces); the test process connects to that socket to reach a TCP port inside
 * the namespace (the nats-server's monitoring endpoint, a client port for set-up) or to ask
 * whether the namespace reaches an address on the test network (a probe: ok, or silence, or
 * an error such as a refusal).
 *
 * Protocol: the first line a connection sends is `tcp <host> <port>` (then bytes are piped
 * both ways) or `probe <host> <port> <timeoutMs>` (answered by one line: `ok`, `timeout`
 * or `error <code>`). The program also accepts TCP connections on the probe port of its
 * host's address, so hosts can probe each other, and exits when its stdin closes (its
 * parent is gone).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ManagedProcess } from './process.js';

/** The TCP port every host's relay accepts probes on. */
export const PROBE_PORT = 7999;

/** Source of the in-namespace program: `node -e RELAY_SOURCE <socketPath> <probePort>`. */
const RELAY_SOURCE = String.raw`
const net = require('node:net');
const fs = require('node:fs');
const [sock, probePort] = process.argv.slice(1);
try { fs.unlinkSync(sock); } catch {}
const server = net.createServer((c) => {
  let head = '';
  const onData = (d) => {
    head += d.toString('latin1');
    const nl = head.indexOf('\n');
    if (nl < 0) { if (head.length > 200) c.destroy(); return; }
    c.off('data', onData);
    const [cmd, host, port, timeout] = head.slice(0, nl).split(' ');
    const rest = Buffer.from(head.slice(nl + 1), 'latin1');
    if (cmd === 'tcp') {
      const t = net.connect(Number(port), host);
      if (rest.length > 0) t.write(rest);
      c.pipe(t).pipe(c);
      t.on('error', () => c.destroy());
      c.on('error', () => t.destroy());
      c.on('close', () => t.destroy());
      t.on('close', () => c.destroy());
    } else if (cmd === 'probe') {
      const t = net.connect(Number(port), host);
      const done = (answer) => { clearTimeout(timer); t.destroy(); c.end(answer + '\n'); };
      const timer = setTimeout(() => done('timeout'), Math.min(Number(timeout) || 1000, 10000));
      t.once('connect', () => done('ok'));
      t.once('error', (e) => done('error ' + (e.code || e.message)));
    } else c.destroy();
  };
  c.on('data', onData);
  c.on('error', () => {});
});
server.listen(sock, () => {
  net.createServer((c) => { c.on('error', () => {}); c.end(); }).listen(Number(probePort), '0.0.0.0', () => {
    process.stdout.write('relay ready\n');
  });
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
`;

/** Answer of a probe: `ok` (connected), `timeout` (silence) or `error <code>` (e.g. ECONNREFUSED). */
export type ProbeResult = 'ok' | 'timeout' | `error ${string}`;

/** The relay of one namespace, seen from the test process. */
export class NetnsRelay {
  readonly socketPath: string;
  readonly proc: ManagedProcess;
  readonly #servers = new Set<Server>();
  readonly #sockets = new Set<Socket>();

  private constructor(socketPath: string, proc: ManagedProcess) {
    this.socketPath = socketPath;
    this.proc = proc;
  }

  /**
   * Starts the relay inside namespace `netns`, listening on `socketPath`.
   * @throws Error when it does not start within 10 s, with its output
   */
  static async start(netns: string, socketPath: string): Promise<NetnsRelay> {
    const proc = ManagedProcess.spawn('ip', [
      'netns',
      'exec',
      netns,
      process.execPath,
      '-e',
      RELAY_SOURCE,
      socketPath,
      String(PROBE_PORT),
    ]);
    try {
      await proc.waitForOutput(/relay ready/, 10_000);
    } catch (err) {
      await proc.stop(1000);
      throw new Error(`the relay in namespace ${netns} did not start: ${(err as Error).message.split('\n')[0]}`, {
        cause: err,
      });
    }
    return new NetnsRelay(socketPath, proc);
  }

  /** A socket to `host:port` as seen from inside the namespace. */
  connect(host: string, port: number): Socket {
    const s = connect(this.socketPath);
    s.write(`tcp ${host} ${port}\n`);
    return s;
  }

  /**
   * A port on 127.0.0.1 of the test process's own namespace that leads to `host:port` inside
   * the namespace (through the control path: never cut). Closed by {@link stop}.
   */
  forward(host: string, port: number): Promise<number> {
    const server = createServer((local) => {
      const remote = this.connect(host, port);
      this.#sockets.add(local).add(remote);
      local.pipe(remote).pipe(local);
      const end = () => {
        local.destroy();
        remote.destroy();
        this.#sockets.delete(local);
        this.#sockets.delete(remote);
      };
      local.on('error', end).on('close', end);
      remote.on('error', end).on('close', end);
    });
    this.#servers.add(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const a = server.address();
        if (a && typeof a === 'object') resolve(a.port);
        else reject(new Error('the forward has no port'));
      });
    });
  }

  /** Whether the namespace opens a TCP connection to `host:port` within `timeoutMs`. */
  probe(host: string, port: number, timeoutMs = 1000): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const s = connect(this.socketPath);
      let answer = '';
      const timer = setTimeout(() => s.destroy(), timeoutMs + 3000);
      s.on('data', (d) => (answer += d.toString()));
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(timer);
        const a = answer.trim();
        resolve(a === 'ok' || a === 'timeout' || a.startsWith('error ') ? (a as ProbeResult) : 'error relay');
      });
      s.write(`probe ${host} ${port} ${timeoutMs}\n`);
    });
  }

  /** Closes every forward and stops the relay. Idempotent. */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    await Promise.all([...this.#servers].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    this.#servers.clear();
    await this.proc.stop(1000);
  }
}
