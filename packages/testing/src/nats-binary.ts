/**
 * Which nats-server program the tests, the chaos suite, the benchmarks and `backbeat cluster`
 * run. One rule, used by all of them:
 *
 * 1. `BACKBEAT_NATS_SERVER=/path/to/nats-server`, when set (any version: the caller chose it);
 * 2. the pinned release built by `scripts/ensure-nats-server.mjs` into the cache directory
 *    (`$BACKBEAT_CACHE_DIR`, else `$XDG_CACHE_HOME/backbeat`, else `~/.cache/backbeat`);
 * 3. a `nats-server` on PATH when it is 2.10 or newer.
 *
 * Anything else is one line saying what to install; never a silent fallback to an older server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { compareServerVersions } from '@backbeat/transport';

/** The release the project pins and builds from its Go module. */
export const PINNED_NATS_SERVER_VERSION = '2.14.10';

/** The oldest server found on PATH that is used without being asked for by name. */
export const MIN_PATH_VERSION = '2.10.0';

/** The resolved program and the version it reports. */
export interface NatsServerBinary {
  path: string;
  version: string;
  /** Where the choice came from. */
  source: 'env' | 'cache' | 'path';
}

/** The cache directory of built programs. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BACKBEAT_CACHE_DIR) return env.BACKBEAT_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'backbeat');
  return join(homedir(), '.cache', 'backbeat');
}

/** Where the pinned release is built. */
export function pinnedBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), `nats-server-v${PINNED_NATS_SERVER_VERSION}`, 'nats-server');
}

/** The version a nats-server program prints (`nats-server: v2.14.10` -> `2.14.10`), or undefined. */
export function readVersion(binary: string): string | undefined {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /v?(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`)?.[1];
}

let resolved: NatsServerBinary | undefined;

/**
 * The nats-server to run, found once per process.
 * @throws Error with one line that says what to install or set
 */
export function natsServerBinary(env: NodeJS.ProcessEnv = process.env): NatsServerBinary {
  if (resolved && env === process.env) return resolved;
  const found = resolve(env);
  if (env === process.env) resolved = found;
  return found;
}

function resolve(env: NodeJS.ProcessEnv): NatsServerBinary {
  const chosen = env.BACKBEAT_NATS_SERVER;
  if (chosen) {
    const version = readVersion(chosen);
    if (!version)
      throw new Error(`BACKBEAT_NATS_SERVER=${chosen}: does not run as a nats-server (\`${chosen} --version\` failed)`);
    return { path: chosen, version, source: 'env' };
  }
  const pinned = pinnedBinaryPath(env);
  if (existsSync(pinned)) {
    const version = readVersion(pinned);
    if (version) return { path: pinned, version, source: 'cache' };
  }
  const onPath = readVersion('nats-server');
  if (onPath && compareServerVersions(onPath, MIN_PATH_VERSION) >= 0)
    return { path: 'nats-server', version: onPath, source: 'path' };
  const found = onPath
    ? `the nats-server on PATH is ${onPath}, older than 2.10`
    : 'no nats-server was built or found on PATH';
  throw new Error(
    `${found}: run \`node scripts/ensure-nats-server.mjs\` (builds ` +
      `v${PINNED_NATS_SERVER_VERSION} with Go), or set BACKBEAT_NATS_SERVER=/path/to/nats-server`,
  );
}

/**
 * Debian's nats-server 2.9.10 (`apt-get install nats-server`, `/usr/sbin/nats-server`), which the
 * named 2.9 subset of the suite and the version-rule tests run against;
 * `BACKBEAT_LEGACY_NATS_SERVER` picks another old server.
 * @throws Error with one line when it is not installed
 */
export function legacyNatsServerBinary(env: NodeJS.ProcessEnv = process.env): NatsServerBinary {
  const path = env.BACKBEAT_LEGACY_NATS_SERVER ?? '/usr/sbin/nats-server';
  const version = readVersion(path);
  if (!version)
    throw new Error(
      `Debian's nats-server 2.9.10 is not installed at ${path}: \`apt-get install ` +
        `nats-server\` (npm test installs it when run as root)`,
    );
  return { path, version, source: 'env' };
}
