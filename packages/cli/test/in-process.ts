/**
 * Runs `backbeat ARGS...` in the test's own process through runCli: what the launcher runs
 * before it sets the exit code, without the ~0.9 s of CPU a node process spends on imports.
 * For one-shot commands whose process adds nothing under test; lingering, signals and the
 * launcher itself are tested with real processes.
 */
import { runCli } from '@backbeat/cli';

/**
 * What a run printed and how it ended: `code` is the exit code (0 when the command ran to its end without setting one).
 */
export async function runInProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['node', 'backbeat', ...args], {
    writeOut: (text) => void (out += text),
    writeErr: (text) => void (err += text),
  });
  return { code: code ?? 0, out, err };
}
