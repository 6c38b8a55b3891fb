/**
 * The nats-server version rule at connect (docs/spec.md §12 Known pitfalls): pulse and reverb
 * refuse replicated state on a server whose compare-and-set can let two writers win (before
 * 2.9.21), in one line; on one old server they start with one warning line. Debian's 2.9.10
 * is such a server.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyNatsServerBinary, ManagedProcess, NatsCluster, NatsServer } from '@backbeat/testing';
import { serverVersionVerdict } from '@backbeat/transport/internal';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));

describe('server version - the rule', () => {
  it('server version - replicated state needs 2.9.21 or newer; 2.9 alone is a warning; 2.10+ is fine', () => {
    expect(serverVersionVerdict('2.9.10', 3)).toMatchObject({
      kind: 'refuse',
      message: expect.stringMatching(/2\.9\.10 .*issue 4320/),
    });
    expect(serverVersionVerdict('2.9.20', 2).kind).toBe('refuse');
    expect(serverVersionVerdict('2.9.21', 3).kind).toBe('warn');
    expect(serverVersionVerdict('2.9.10', 1)).toMatchObject({
      kind: 'warn',
      message: expect.stringMatching(/2\.9 line has ended/),
    });
    expect(serverVersionVerdict('2.10.0', 3).kind).toBe('ok');
    expect(serverVersionVerdict('2.14.10', 1).kind).toBe('ok');
    expect(serverVersionVerdict('v2.14.10-beta.1', 3).kind).toBe('ok');
  });
});

describe("server version - on Debian's nats-server 2.9.10", () => {
  const legacy = legacyNatsServerBinary().path;
  let cluster: NatsCluster;
  let single: NatsServer;
  beforeAll(async () => {
    [cluster, single] = await Promise.all([
      NatsCluster.start(3, { binary: legacy }),
      NatsServer.start({ binary: legacy }),
    ]);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await single?.stop();
  });

  async function runUntilExit(args: string[]): Promise<{ code: number | string; err: string }> {
    const p = ManagedProcess.node(bin, args, { env: { BACKBEAT_LOG_FORMAT: 'json' } });
    try {
      const code = await Promise.race([
        p.exited,
        new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000)),
      ]);
      return { code, err: p.stderr };
    } finally {
      await p.stop();
    }
  }

  for (const service of ['pulse', 'reverb'] as const) {
    it(
      `server version - ${service} with 3 replicas on a 2.9.10 cluster ` +
        'refuses to start in one line naming the version',
      async () => {
        const port = service === 'pulse' ? '--admin-port' : '--http-port';
        const { code, err } = await runUntilExit([
          service,
          '--cluster',
          `sv${service}`,
          '--nats',
          cluster.urls.join(','),
          '--replicas',
          '3',
          port,
          '0',
          '--node-id',
          'n1',
        ]);
        expect(code).toBe(1);
        const lines = err
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('backbeat: '));
        expect(lines, err).toHaveLength(1);
        expect(lines[0]).toMatch(/nats-server 2\.9\.10 is too old for replicated state \(3 replicas\).*issue 4320/);
        expect(err).not.toMatch(/\n\s+at /);
      },
    );
  }

  it('server version - pulse on one 2.9.10 server starts, with one warning line', async () => {
    const p = ManagedProcess.node(
      bin,
      ['pulse', '--cluster', 'svsingle', '--nats', single.url, '--admin-port', '0', '--node-id', 'p1'],
      { env: { BACKBEAT_LOG_FORMAT: 'json' } },
    );
    try {
      await p.waitForOutput(/pulse started/, 20_000);
      const warnings = p.stdout.split('\n').filter((l) => l.includes('the 2.9 line has ended'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!)).toMatchObject({ nats_server: '2.9.10' });
    } finally {
      await p.stop();
    }
  });
});
