import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedProcess } from '@backbeat/testing';
import { runValidateCli, type CliIo } from '@backbeat/contracts';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const bin = fileURLToPath(new URL('../bin/backbeat-validate.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bb-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const claim = { type: 'backbeat.statusclaim.v1', agent_id: 'agent:a1', beat_index: 3, state: 'executing', hlc: '7ffd:0001:abcd' };

async function run(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, readStdin: async () => stdin };
  const code = await runValidateCli(args, io);
  return { code, out, err };
}

describe('backbeat-validate - report', () => {
  it('cli - --dir --json prints a report a program can parse', async () => {
    const { code, out } = await run(['--dir', join(examples, 'valid'), '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.summary.invalid).toBe(0);
    expect(report.summary.total).toBeGreaterThanOrEqual(36);
    expect(report.results[0]).toEqual({ file: expect.stringContaining('valid'), index: 0, type: expect.stringMatching(/^backbeat\./), valid: true, errors: [] });
  });

  it('cli - --exit-code exits 1 when any message is invalid, 0 without it', async () => {
    const dir = join(examples, 'invalid');
    const withFlag = await run(['--dir', dir, '--exit-code']);
    expect(withFlag.code).toBe(1);
    expect(withFlag.out).toMatch(/✗ .*tempo_bpm--maximum\.json\[0\] backbeat\.beatframe\.v1: \/tempo_bpm: tempo_bpm must be <= 1000/);
    expect((await run(['--dir', dir])).code).toBe(0);
  });

  it('cli - checks a JSON array and JSON Lines message by message', async () => {
    const arr = join(tmp, 'batch.json');
    writeFileSync(arr, JSON.stringify([claim, { ...claim, state: 'nope' }, claim]));
    const lines = join(tmp, 'stream.jsonl');
    writeFileSync(lines, `${JSON.stringify(claim)}\n{"type": broken\n${JSON.stringify({ ...claim, progress: 3 })}\n`);
    const { out } = await run(['--file', arr, '--file', lines, '--json']);
    const r = JSON.parse(out);
    expect(r.results.map((x: { file: string; index: number; valid: boolean }) => [x.file.split('/').pop(), x.index, x.valid])).toEqual([
      ['batch.json', 0, true],
      ['batch.json', 1, false],
      ['batch.json', 2, true],
      ['stream.jsonl', 0, true],
      ['stream.jsonl', 1, false],
      ['stream.jsonl', 2, false],
    ]);
    expect(r.results[4].errors[0]).toMatchObject({ rule: 'json', message: expect.stringMatching(/line 2, column 10/) });
  });

  it('cli - --message inline and from stdin', async () => {
    expect((await run(['--message', JSON.stringify(claim), '--exit-code'])).code).toBe(0);
    const bad = await run(['--message', '-', '--exit-code'], '{"type":"backbeat.unknown.v1"}');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/unknown type "backbeat.unknown.v1"; known types/);
  });

  it('cli - --schemas DIR uses other schemas, and a bad DIR is one clear line', async () => {
    expect((await run(['--schemas', fileURLToPath(new URL('../schemas/', import.meta.url)), '--message', JSON.stringify(claim), '--exit-code'])).code).toBe(0);
    const missing = await run(['--schemas', join(tmp, 'nope'), '--message', '{}']);
    expect(missing).toMatchObject({ code: 2, err: expect.stringMatching(/^backbeat-validate: cannot load schemas from .*nope: no such directory\n$/) });
  });

  it('cli - usage and unreadable input exit 2 with one line', async () => {
    expect(await run([])).toMatchObject({ code: 2, err: expect.stringMatching(/nothing to validate/) });
    expect(await run(['--file', join(tmp, 'absent.json')])).toMatchObject({ code: 2, err: expect.stringMatching(/cannot read .*absent.json: no such file/) });
    expect(await run(['--dir', join(tmp, 'absent')])).toMatchObject({ code: 2, err: expect.stringMatching(/no such directory/) });
    expect((await run(['--bogus'])).code).toBe(2);
  });

  it('cli - the installed bin runs and never prints a stack trace', async () => {
    const p = ManagedProcess.node(bin, ['--file', join(tmp, 'absent.json')]);
    expect(await p.exited).toBe(2);
    expect(p.stderr).toMatch(/^backbeat-validate: cannot read/);
    expect(p.stderr).not.toMatch(/\n\s+at /);
    const ok = ManagedProcess.node(bin, ['--dir', join(examples, 'valid'), '--json', '--exit-code']);
    expect(await ok.exited).toBe(0);
    expect(JSON.parse(ok.stdout).summary.invalid).toBe(0);
  });
});
