/**
 * Linux network namespaces and nftables for {@link NetCluster}: the `ip` and `nft` commands,
 * each run with a bound, each failure told in one line; names unique per run; a sweep of
 * namespaces left by a test process that died before it could clean up.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** Bound of one `ip` or `nft` command. */
const COMMAND_TIMEOUT_MS = 10_000;

/** Every namespace this harness makes starts with this, then the owner's pid: `bbn-<pid>-<n>-...`. */
export const NETNS_PREFIX = 'bbn-';

/** One line: the first line of a command's error output, or its error message. */
function oneLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/**
 * Runs `program args...`; resolves with stdout.
 * @throws Error in one line: the command and the first line of what it said
 */
export function run(program: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(program, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const said = oneLine(stderr) || oneLine(err.message);
      reject(new Error(`\`${program} ${args.join(' ')}\` failed: ${said}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Same as {@link run}, synchronous and silent: for the exit hook (errors are ignored). */
export function runQuietSync(program: string, args: readonly string[]): string {
  const r = spawnSync(program, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  return r.status === 0 ? r.stdout : '';
}

/** True when `program` is on PATH. */
export function hasProgram(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/**
 * What this machine lacks to make namespaces, in one line, or undefined when nothing is
 * missing (`ip netns add` itself is tried by the caller, which reports its failure).
 */
export function missingForNetns(): string | undefined {
  if (process.platform !== 'linux') return `NetCluster needs Linux network namespaces; this is ${process.platform}`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid !== 0) return `NetCluster needs root to make network namespaces (running as uid ${uid})`;
  if (!hasProgram('ip')) return 'NetCluster needs the `ip` program (Debian package iproute2)';
  if (!hasProgram('nft'))
    return (
      'NetCluster needs the `nft` program (Debian package nftables; `node ' +
      'scripts/ensure-system-deps.mjs` installs it)'
    );
  return undefined;
}

let counter = 0;

/** A run prefix no other NetCluster (in this process or another) uses: `bbn-<pid>-<n>`. */
export function uniquePrefix(): string {
  counter += 1;
  return `${NETNS_PREFIX}${process.pid}-${counter}`;
}

/** The namespaces that exist now (names under /run/netns). */
export function listNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** True when process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside namespace `name` (SIGKILL) and deletes it; errors ignored. */
export function destroyNetnsSync(name: string): void {
  for (const pid of runQuietSync('ip', ['netns', 'pids', name]).split('\n').map(Number)) {
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  runQuietSync('ip', ['netns', 'del', name]);
}

/**
 * Deletes namespaces this harness made in a process that no longer runs (killed before its
 * exit hook could run, e.g. by SIGKILL), and the processes still inside them. Returns their names.
 */
export function sweepOrphans(): string[] {
  const swept: string[] = [];
  for (const name of listNetns()) {
    const m = /^bbn-(\d+)-/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    destroyNetnsSync(name);
    swept.push(name);
  }
  return swept;
}
