import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runValidateCli, type ValidateCliReport } from '@backbeat/contracts';
import { claim } from './fixtures.js';

const examples = fileURLToPath(new URL('../examples/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bb-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI in-process with captured streams. */
async function run(args: string[], stdin: string | Readable = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runValidateCli(args, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stdin,
  });
  return { code, out, err };
}
const report = (out: string) => JSON.parse(out) as ValidateCliReport;

describe('backbeat-validate - reports', () => {
  it('cli - --dir --json prints one parseable document with a summary and one entry per message', async () => {
    const { code, out, err } = await run(['--dir', join(examples, 'valid'), '--json']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const r = report(out);
    expect(r.summary).toEqual({ total: r.results.length, valid: r.results.length, invalid: 0 });
    expect(r.summary.total).toBeGreaterThanOrEqual(36);
    expect(r.results[0]).toEqual({
      file: expect.stringMatching(/valid\/barreport\/.*\.json$/),
      index: 0,
      type: 'backbeat.barreport.v1',
      valid: true,
      errors: [],
    });
  });

  it(
    'cli - human output: one line per message and a summary; ' + 'exit 0 without --exit-code even when invalid',
    async () => {
      const dir = join(examples, 'invalid', 'barreport');
      const r = await run(['--dir', dir]);
      expect(r.code).toBe(0);
      const lines = r.out.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^\d+ message\(s\) checked: 0 valid, \d+ invalid$/);
      expect(lines).toContainEqual(
        expect.stringMatching(
          /^✗ .*agents_reporting--minimum\.json\[0\] backbeat\.barreport\.v1: \/agents_reporting: agents_reporting must be >= 0$/,
        ),
      );
      expect((await run(['--dir', dir, '--exit-code'])).code).toBe(1);
      const all = await run(['--dir', join(examples, 'invalid'), '--exit-code', '--json']);
      expect({ code: all.code, err: all.err, valid: report(all.out).summary.valid }).toEqual({
        code: 1,
        err: '',
        valid: 0,
      });
      expect(
        (await run(['--file', join(examples, 'valid', 'beatframe', 'review-phase.json'), '--exit-code'])).out,
      ).toMatch(/^✓ .*review-phase\.json\[0\] backbeat\.beatframe\.v1\n1 message\(s\) checked: 1 valid, 0 invalid\n$/);
    },
  );

  it('cli - a JSON array and JSON Lines are checked message by message', async () => {
    const arr = join(tmp, 'batch.json');
    writeFileSync(arr, JSON.stringify([claim, { ...claim, state: 'nope' }, claim]));
    const lines = join(tmp, 'stream.jsonl');
    writeFileSync(lines, `${JSON.stringify(claim)}\n\n${JSON.stringify({ ...claim, progress: 3 })}\n`);
    const detected = join(tmp, 'detected.json'); // several lines of objects, no .jsonl
    writeFileSync(detected, `${JSON.stringify(claim)}\n${JSON.stringify(claim)}\n`);
    const { code, out } = await run(['--file', arr, '--file', lines, '--file', detected, '--json', '--exit-code']);
    expect(code).toBe(1);
    const r = report(out);
    expect(r.results.map((x) => [x.file.split('/').pop(), x.index, x.valid])).toEqual([
      ['batch.json', 0, true],
      ['batch.json', 1, false],
      ['batch.json', 2, true],
      ['stream.jsonl', 0, true],
      ['stream.jsonl', 1, false],
      ['detected.json', 0, true],
      ['detected.json', 1, true],
    ]);
    expect(r.results[4]!.errors).toEqual([{ path: '/progress', rule: 'maximum', message: 'progress must be <= 1' }]);
  });

  it('cli - --message inline and from stdin', async () => {
    expect(await run(['--message', JSON.stringify(claim), '--exit-code'])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^✓ <message>\[0\] backbeat\.statusclaim\.v1\n/),
    });
    const bad = await run(
      ['--message', '-', '--exit-code', '--json'],
      Readable.from([JSON.stringify({ ...claim, hlc: 'x' })]),
    );
    expect(bad.code).toBe(1);
    expect(report(bad.out).results[0]).toMatchObject({
      file: '<stdin>',
      valid: false,
      errors: [{ path: '/hlc', rule: 'pattern' }],
    });
  });

  it(
    'cli - --schemas DIR loads other schemas (a type it lacks is invalid ' +
      'input, exit 1); a missing DIR is one line and exit 2',
    async () => {
      const only = join(tmp, 'claims-only');
      mkdirSync(only);
      writeFileSync(
        join(only, 'claim.json'),
        JSON.stringify(
          await import('../schemas/backbeat.statusclaim.v1.schema.json', { with: { type: 'json' } }).then(
            (m) => m.default,
          ),
        ),
      );
      expect((await run(['--schemas', only, '--message', JSON.stringify(claim), '--exit-code'])).code).toBe(0);
      const frame = await run(['--schemas', only, '--file', join(examples, 'valid', 'beatframe', 'review-phase.json')]);
      expect(frame).toMatchObject({
        code: 1,
        err: '',
        out: expect.stringMatching(
          /unknown message type "backbeat.beatframe.v1"; known types: backbeat.statusclaim.v1\n/,
        ),
      });
      const missing = await run(['--schemas', join(tmp, 'nope'), '--message', '{}']);
      expect(missing).toEqual({
        code: 2,
        out: '',
        err: `backbeat-validate: cannot load schemas from ${join(tmp, 'nope')}: no such directory\n`,
      });
    },
  );
});

describe('backbeat-validate - usage errors exit 2 with one line; unreadable messages exit 1, reported once', () => {
  it('cli - no input, an unknown flag, a missing file or directory', async () => {
    expect(await run([])).toMatchObject({
      code: 2,
      out: '',
      err: expect.stringMatching(
        /^backbeat-validate: nothing to validate: give --dir DIR, --file FILE or --message JSON \(see --help\)\n$/,
      ),
    });
    expect(await run(['--bogus'])).toMatchObject({ code: 2, err: "error: unknown option '--bogus'\n" });
    expect(await run(['--file', join(tmp, 'absent.json')])).toMatchObject({
      code: 2,
      out: '',
      err: `backbeat-validate: cannot read ${join(tmp, 'absent.json')}: no such file\n`,
    });
    expect(await run(['--dir', join(tmp, 'absent')])).toMatchObject({
      code: 2,
      out: '',
      err: `backbeat-validate: cannot read ${join(tmp, 'absent')}: no such directory\n`,
    });
    expect(await run(['--file', tmp])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/is a directory \(use --dir\)\n$/),
    });
  });

  it(
    'cli - malformed JSON is reported once, in the report, with ' + 'file:line:column; exit 1 (invalid input)',
    async () => {
      const file = join(tmp, 'broken.json');
      writeFileSync(file, '{\n  "type": "backbeat.statusclaim.v1",\n  "agent_id": agent:a1\n}\n');
      const r = await run(['--file', file, '--json']);
      expect(r.code).toBe(1);
      expect(r.err).toBe('');
      expect(report(r.out).results).toEqual([
        {
          file,
          index: 0,
          type: null,
          valid: false,
          errors: [{ path: '', rule: 'json', message: 'malformed JSON at line 3, column 15: unexpected "a"' }],
        },
      ]);
      const lines = join(tmp, 'mixed.jsonl');
      writeFileSync(lines, `${JSON.stringify(claim)}\n{"type": broken}\n`);
      const h = await run(['--file', lines]);
      expect(h).toMatchObject({ code: 1, err: '' });
      expect(h.out.match(/malformed JSON/g)).toHaveLength(1);
      expect(h.out).toContain(`✗ ${lines}:2:10: malformed JSON: unexpected "b"\n`);
      expect(h.out).toMatch(/2 message\(s\) checked: 1 valid, 1 invalid\n$/);
    },
  );

  it('cli - an unknown type is one line listing the known types', async () => {
    const r = await run(['--message', '{"type":"backbeat.unknown.v1"}']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out).toMatch(
      /^✗ <message>\[0\]: unknown message type "backbeat.unknown.v1"; known types: backbeat.barreport.v1, backbeat.beatframe.v1, backbeat.statusclaim.v1\n/,
    );
    expect(r.out.match(/unknown message type/g)).toHaveLength(1);
  });

  it('cli - --help prints the flags and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--schemas', '--dir', '--file', '--message', '--json', '--exit-code'])
      expect(r.out).toContain(flag);
    expect(r.out).toMatch(/Exit codes:\n  0 .*\n  1  invalid input[\s\S]*\n  2  usage error/);
  });
});
