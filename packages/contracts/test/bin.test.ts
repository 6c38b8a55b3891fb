import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { claim } from './fixtures.js';

const pkg = fileURLToPath(new URL('../', import.meta.url));
const bin = join(pkg, 'bin', 'backbeat-validate.js');
const examples = join(pkg, 'examples');

/** Runs the launcher as a user would; resolves once its output streams are closed. */
function runBin(args: string[], stdin?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: pkg, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** The bin runs dist/: build the package (incremental) when dist is missing or older than src. */
beforeAll(() => {
  const src = join(pkg, 'src');
  const newest = Math.max(
    ...readdirSync(src, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(src, f)).mtimeMs),
  );
  const built = join(pkg, 'dist', 'cli.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '--build', join(pkg, 'tsconfig.json')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc --build packages/contracts failed:\n${r.stdout}${r.stderr}`);
}, 60_000);

describe('backbeat-validate - the installed bin', () => {
  it('bin - --dir examples/valid --json prints parseable JSON and exits 0', async () => {
    const r = await runBin(['--dir', 'examples/valid', '--json', '--exit-code']);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    const report = JSON.parse(r.out) as { summary: { total: number; invalid: number } };
    expect(report.summary.invalid).toBe(0);
    expect(report.summary.total).toBeGreaterThanOrEqual(36);
  });

  it('bin - invalid messages exit 1 with --exit-code', async () => {
    const r = await runBin(['--dir', join(examples, 'invalid', 'statusclaim'), '--exit-code']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /✗ .*progress--maximum\.json\[0\] backbeat\.statusclaim\.v1: \/progress: progress must be <= 1\n/,
    );
  });

  it('bin - reads --message - from stdin', async () => {
    const r = await runBin(['--message', '-', '--exit-code'], JSON.stringify(claim));
    expect(r).toEqual({
      code: 0,
      out: '✓ <stdin>[0] backbeat.statusclaim.v1\n1 message(s) checked: 1 valid, 0 invalid\n',
      err: '',
    });
  });

  it('bin - an unreadable file is one line on stderr, exit 2, never a stack trace', async () => {
    const r = await runBin(['--file', 'no/such/file.json']);
    expect(r).toEqual({ code: 2, out: '', err: 'backbeat-validate: cannot read no/such/file.json: no such file\n' });
  });
});
