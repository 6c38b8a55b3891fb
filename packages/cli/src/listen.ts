/**
 * Binding a service's ports before it touches the cluster (fail fast): a taken port, an
 * address that is not on this machine or a port that needs root becomes one StartupError
 * sentence that names the flag and says how to fix it.
 */
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { StartupError } from './errors.js';

/** Which flags set the address and the port, for the error sentence. */
export interface ListenFlags {
  readonly host: string;
  readonly port: string;
}

/** The StartupError for a failed bind of `host:port`. */
export function explainListenError(err: unknown, host: string, port: number, flags: ListenFlags): StartupError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new StartupError(
        flags.port,
        `${where} is already in use by another process: stop it, or pick ` +
          `another port with ${flags.port} N (0 picks a free one)`,
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
      return new StartupError(
        flags.port,
        `no permission to listen on ${where} (ports below 1024 need root): ` +
          `pick a port from 1024 up with ${flags.port} N`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(
        flags.host,
        `${host} is not an address of this machine: use 127.0.0.1, or one of this host's addresses with ${flags.host}`,
        { cause: err },
      );
    default:
      return new StartupError(flags.port, `cannot listen on ${where}: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
  }
}

/**
 * Starts `app` listening on `host:port` and returns its base URL (`http://host:port`, with
 * the port the system picked for 0).
 * @throws StartupError naming the flag when the bind fails
 */
export async function listenOrExplain(
  app: FastifyInstance,
  host: string,
  port: number,
  flags: ListenFlags,
): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => {});
    throw explainListenError(err, host, port, flags);
  }
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

/**
 * Checks that `host:port` can be bound now (for ports a child process will bind, such as
 * the nats-server of `backbeat cluster`), by binding and releasing it.
 * @throws StartupError naming the flag when it cannot
 */
export async function assertPortFree(host: string, port: number, flags: ListenFlags): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(explainListenError(err, host, port, flags)));
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
