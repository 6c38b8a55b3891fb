import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ManagedProcess } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { clusterNames, JetStreamNotFoundError, NatsBus } from '@backbeat/transport';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const nats = useNatsFixture();
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((r) => (busy ? busy.close(() => r()) : r()));
});

/**
 * Runs the CLI until it exits by itself (at most 20 s: a CLI still running then gives the code
 * 'timeout'). `lingerMs` is the time from its error line to its exit: node's own start-up
 * takes seconds on a loaded machine, so the bound that matters is after the failure is known.
 */
async function run(args: string[]): Promise<{ code: number | string; err: string; lingerMs: number }> {
  const p = ManagedProcess.node(bin, args, { env: { BACKBEAT_LOG_FORMAT: 'json' } });
  let sawError = 0;
  const watch = setInterval(() => {
    if (!sawError && p.stderr.includes('backbeat: ')) sawError = Date.now();
  }, 5);
  const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 20_000))]);
  const exitedAt = Date.now();
  clearInterval(watch);
  await p.stop();
  return { code, err: p.stderr, lingerMs: sawError ? exitedAt - sawError : Infinity };
}

function expectOneLine(err: string, flag: string): void {
  const lines = err.trim().split('\n');
  expect(lines, err).toHaveLength(1);
  expect(lines[0]).toMatch(
    new RegExp(
      `^backbeat: ${flag}: 127\\.0\\.0\\.1:${busyPort} is already in use by another ` +
        `process: stop it, or pick another port with ${flag} N`,
    ),
  );
  expect(err).not.toMatch(/\n\s+at /);
}

describe('fail fast - a busy port stops a service at once, in one line, exit 1', () => {
  it('fail fast - backbeat pulse with a busy --admin-port writes no tempo map and takes no lease', async () => {
    const { code, err, lingerMs } = await run([
      'pulse',
      '--cluster',
      'ffpulse',
      '--nats',
      nats.url,
      '--admin-port',
      String(busyPort),
      '--node-id',
      'p1',
    ]);
    expect(code).toBe(1);
    expectOneLine(err, '--admin-port');
    expect(lingerMs).toBeLessThan(2000);
    const bus = await NatsBus.connect({ servers: nats.url });
    try {
      for (const bucket of [clusterNames('ffpulse').stateBucket, clusterNames('ffpulse').leaseBucket]) {
        await expect(bus.kv(bucket, { create: false })).rejects.toBeInstanceOf(JetStreamNotFoundError);
      }
    } finally {
      await bus.close();
    }
  });

  it('fail fast - backbeat reverb with a busy --http-port', async () => {
    const { code, err, lingerMs } = await run([
      'reverb',
      '--cluster',
      'ffrev',
      '--nats',
      nats.url,
      '--http-port',
      String(busyPort),
      '--node-id',
      'r1',
    ]);
    expect(code).toBe(1);
    expectOneLine(err, '--http-port');
    expect(lingerMs).toBeLessThan(2000);
    const bus = await NatsBus.connect({ servers: nats.url });
    try {
      const jsm = await bus.jsm();
      await expect(jsm.streams.info(clusterNames('ffrev').statusStream)).rejects.toThrow();
    } finally {
      await bus.close();
    }
  });

  it('fail fast - backbeat dev with a busy --port', async () => {
    const { code, err, lingerMs } = await run(['dev', '--port', String(busyPort), '--agents', '1']);
    expect(code).toBe(1);
    expectOneLine(err, '--port');
    expect(lingerMs).toBeLessThan(2000);
  });

  it('fail fast - backbeat cluster with a busy --nats-port or --admin-port starts nothing', async () => {
    const a = await run(['cluster', '--nats-port', String(busyPort), '--admin-port', String(await freePort())]);
    expect(a.code).toBe(1);
    expectOneLine(a.err, '--nats-port');
    expect(a.lingerMs).toBeLessThan(2000);
    const b = await run([
      'cluster',
      '--nats-port',
      String(await freePort()),
      '--admin-port',
      String(busyPort),
      '--nodes',
      '1',
    ]);
    expect(b.code).toBe(1);
    expectOneLine(b.err, '--admin-port');
  });

  it('fail fast - a host that is not on this machine names --host', async () => {
    const { code, err } = await run(['dev', '--port', '0', '--host', '192.0.2.1', '--admin-token', 't']);
    expect(code).toBe(1);
    expect(err.trim()).toMatch(/^backbeat: --host: 192\.0\.2\.1 is not an address of this machine/);
  });
});
