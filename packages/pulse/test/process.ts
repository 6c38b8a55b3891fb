import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '@backbeat/testing';

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
 * Starts `backbeat pulse` (the built CLI) and waits for its admin API. `env` is added to the
 * process's environment (e.g. LD_PRELOAD and FAKETIME for a skewed clock).
 */
export async function startPulseProcess(nats: string, cluster: string, nodeId: string, extra: string[] = [], env: Record<string, string> = {}): Promise<PulseProcess> {
  const args = ['pulse', '--cluster', cluster, '--node-id', nodeId, '--nats', nats, '--admin-port', '0', '--bpm', '120', '--max-bpm', '120', ...extra];
  const proc = ManagedProcess.node(bin, args, { env: { BACKBEAT_LOG_FORMAT: 'json', ...env } });
  const m = await proc.waitForOutput(/"admin":"(http:\/\/127\.0\.0\.1:\d+)"/, 15_000);
  return { proc, admin: m[1]!, nodeId };
}

/** GET a JSON endpoint. */
export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const r = await fetch(url);
  return (await r.json()) as T;
}
