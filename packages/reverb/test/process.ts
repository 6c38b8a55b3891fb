/** Runs test/fixtures/reverb-process.mjs as a child process (for kill -9 and bind tests). */
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '@backbeat/testing';

const script = fileURLToPath(new URL('./fixtures/reverb-process.mjs', import.meta.url));

/** Starts the fixture with `env`; resolves once it printed its ready line. */
export async function startReverbProcess(
  env: Record<string, string>,
): Promise<{ proc: ManagedProcess; http: string; consumer: string }> {
  const proc = ManagedProcess.node(script, [], { env });
  try {
    const m = await proc.waitForOutput(/\{"ready":true[^\n]*\}/, 15_000);
    const line = JSON.parse(m[0]) as { http: string; consumer: string };
    return { proc, ...line };
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\nstderr: ${proc.stderr}`);
  }
}

/** Starts the fixture expecting it to refuse to start; resolves with its exit code and stderr. */
export async function refusedReverbProcess(
  env: Record<string, string>,
): Promise<{ code: number | NodeJS.Signals; stderr: string }> {
  const proc = ManagedProcess.node(script, [], { env });
  const code = await proc.exited;
  return { code, stderr: proc.stderr };
}
