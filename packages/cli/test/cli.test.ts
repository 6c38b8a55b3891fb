import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { runInProcess } from './in-process.js';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const examples = fileURLToPath(new URL('../../contracts/examples/valid', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bb-cli-'));
const nats = useNatsFixture();
afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
});

async function run(args: string[], timeoutMs = 10_000): Promise<{ code: number | string; out: string; err: string }> {
  const p = ManagedProcess.node(bin, args, { env: { BACKBEAT_LOG_FORMAT: 'json' } });
  const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
  if (code === 'timeout') await p.stop();
  return { code, out: p.stdout, err: p.stderr };
}

// Independent short-lived processes that only parse flags: run side by side (each costs about
// 0.8 s of CPU to start, mostly imports; one after another they took 14 s).
describe.concurrent('backbeat CLI - usage', () => {
  it('cli - --help lists every command', async ({ expect }) => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    for (const c of ['dev', 'validate', 'pulse', 'reverb', 'cluster', 'agent', 'watch', 'status', 'tempo', 'dlq'])
      expect(out).toMatch(new RegExp(`\\n  ${c}\\b`));
  });

  it('cli - backbeat validate is backbeat-validate', async ({ expect }) => {
    const { code, out } = await run(['validate', '--dir', examples, '--json', '--exit-code']);
    expect(code).toBe(0);
    expect(JSON.parse(out).summary.invalid).toBe(0);
  });

  it('cli - a flag error ends the process with exit 2 and one line naming the flag, no stack', async ({ expect }) => {
    const { code, err } = await run(['pulse', '--bpm', '99']);
    expect(code).toBe(2);
    expect(err).toMatch(/^backbeat: --bpm: must be from 4 to 24, got 99/);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('cli - an unreachable NATS server is one sentence and exit 1', async ({ expect }) => {
    const { code, err } = await run(['pulse', '--nats', 'nats://127.0.0.1:1', '--admin-port', '0']);
    expect(code).toBe(1);
    expect(err).toMatch(/^backbeat: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });
});

// The flag checks themselves run in-process (./in-process.ts; one process above shows that path
// end to end): a process per row cost about 0.9 s of CPU, mostly imports.
describe('backbeat CLI - flag errors', () => {
  it.for([
    [['pulse', '--bpm', '99'], /--bpm: must be from 4 to 24, got 99/],
    [['pulse', '--bpm', '60'], /--bpm: must be from 4 to 24, got 60: set --max-bpm to 60 or more to lift the limit/],
    [['pulse', '--bpm', 'fast'], /--bpm: must be a number from 0.1 to 1000, got 'fast'/],
    [['pulse', '--phases', 'plan,sing'], /--phases: 'sing' is not one of plan, execute \(or work\), review/],
    [
      ['pulse', '--admin-host', '0.0.0.0'],
      /--admin-host: without --admin-token the admin API listens on loopback only/,
    ],
    [['pulse', '--cluster', 'a.b'], /--cluster: 'a.b' must match/],
    [['reverb', '--signatures', 'maybe'], /--signatures: must be one of off, verify, require, got 'maybe'/],
    [['reverb', '--signatures', 'require'], /--trust-file: is needed with --signatures require/],
    [['reverb', '--trust-file', '/nonexistent.json'], /--trust-file: trust file \/nonexistent.json: no such file/],
    [['agent', '--count', '0'], /--count: must be an integer from 1 to 10000, got '0'/],
    [['pulse', '--log-level', 'loud'], /--log-level: must be one of/],
  ])('cli - %j exits 2 with one line naming the flag', async ([args, message]) => {
    const { code, err } = await runInProcess(args as string[]);
    expect(code).toBe(2);
    expect(err).toMatch(message as RegExp);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).not.toMatch(/\n\s+at /);
  });
});

describe('backbeat CLI - against nats-server', () => {
  it('pulse - without --node-id the id is generated once and kept in --data-dir across restarts', async () => {
    const dataDir = join(tmp, 'pulse-data');
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const p = ManagedProcess.node(
        bin,
        ['pulse', '--cluster', 'keepid', '--nats', nats.url, '--admin-port', '0', '--data-dir', dataDir],
        { env: { BACKBEAT_LOG_FORMAT: 'json' } },
      );
      try {
        const admin = (await p.waitForOutput(/"admin":"(http:\/\/127\.0\.0\.1:\d+)"/, 15_000))[1]!;
        ids.push(((await (await fetch(`${admin}/leader`)).json()) as { node_id: string }).node_id);
      } finally {
        await p.stop();
      }
    }
    expect(ids[0]).toMatch(/^pulse-[0-9a-f]{8}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(readFileSync(join(dataDir, 'node-id'), 'utf8').trim()).toBe(ids[0]);
  });

  it('reverb - reloads its trust file on SIGHUP and when the file changes; a bad file keeps the old keys', async () => {
    const trust = join(tmp, 'trust.json');
    writeFileSync(trust, JSON.stringify({ agents: { 'agent:a': ['11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='] } }));
    const r = ManagedProcess.node(
      bin,
      [
        'reverb',
        '--cluster',
        'trust',
        '--nats',
        nats.url,
        '--http-port',
        '0',
        '--signatures',
        'require',
        '--trust-file',
        trust,
        '--node-id',
        'rt',
      ],
      { env: { BACKBEAT_LOG_FORMAT: 'json' } },
    );
    try {
      await r.waitForOutput(/reverb HTTP API listening/);
      writeFileSync(
        trust,
        JSON.stringify({
          agents: {
            'agent:a': ['11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='],
            'agent:b': ['11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='],
          },
        }),
      );
      await r.waitForOutput(/"agents":2,"why":"file changed"/);
      r.kill('SIGHUP');
      await r.waitForOutput(/"why":"SIGHUP"/);
      writeFileSync(trust, '{ broken');
      await r.waitForOutput(/trust file not reloaded; the previous keys stay in force/);
      const t = Date.now();
      expect(await r.stop()).toBe(0);
      expect(Date.now() - t).toBeLessThan(2000);
    } finally {
      await r.stop();
    }
  });
});

import { execFileSync } from 'node:child_process';
import { freePort } from '@backbeat/testing';

describe('backbeat cluster', () => {
  it('cluster - a nats-server and two pulse nodes; SIGINT stops every one of them', async () => {
    const [natsPort, adminPort] = [await freePort(), await freePort()];
    const c = ManagedProcess.node(
      bin,
      ['cluster', '--cluster', 'clu', '--nats-port', String(natsPort), '--admin-port', String(adminPort)],
      { env: { BACKBEAT_LOG_FORMAT: 'json' } },
    );
    const children = () => {
      try {
        return execFileSync(
          'pgrep',
          ['-f', `(127.0.0.1:${natsPort}|--admin-port ${adminPort}|--admin-port ${adminPort + 1})`],
          { encoding: 'utf8' },
        )
          .trim()
          .split('\n')
          .filter(Boolean);
      } catch {
        return [];
      }
    };
    try {
      const leaders = await waitFor(
        async () => {
          const ls = await Promise.all(
            [adminPort, adminPort + 1].map((p) =>
              fetch(`http://127.0.0.1:${p}/leader`).then((r) => r.json() as Promise<{ is_leader: boolean }>),
            ),
          );
          return ls.filter((l) => l.is_leader).length === 1 ? ls : null;
        },
        // three processes start: slow on a loaded machine
        { timeoutMs: 40_000, message: 'two pulse nodes, one leading' },
      );
      expect(leaders).toHaveLength(2);
      expect(children().length).toBeGreaterThanOrEqual(3);
      c.kill('SIGINT');
      expect(await c.exited).toBe(0);
      await waitFor(() => children().length === 0, { timeoutMs: 5000, message: 'no child left' });
    } finally {
      await c.stop();
    }
  }, 60_000);
});
