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

/** Starts `backbeat pulse` (the built CLI) and waits for its admin API. */
export async function startPulseProcess(nats: string, cluster: string, nodeId: string, extra: string[] = []): Promise<PulseProcess> {
  const proc = ManagedProcess.node(bin, ['pulse', '--cluster', cluster, '--node-id', nodeId, '--nats', nats, '--admin-port', '0', '--bpm', '120', '--max-bpm', '120', ...extra], {
    env: { BACKBEAT_LOG_FORMAT: 'json' },
  });
  const m = await proc.waitForOutput(/"admin":"(http:\/\/127\.0\.0\.1:\d+)"/, 15_000);
  return { proc, admin: m[1]!, nodeId };
}

/** GET a JSON endpoint. */
export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const r = await fetch(url);
  return (await r.json()) as T;
}
