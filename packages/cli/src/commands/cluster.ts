/**
 * `backbeat cluster` (also `npm run cluster`): a local nats-server with JetStream and two
 * pulse nodes, admin APIs on :8080 and :8081, as the pulse seed's `make cluster`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { natsServerBinary } from '@backbeat/testing';
import { addClusterFlag } from '../nats-flags.js';
import { runUntilSignal } from '../lifecycle.js';
import { assertPortFree } from '../listen.js';
import { prettyLine } from '../logger.js';
import { intFlag, UsageError } from '../usage.js';

interface ClusterFlags {
  cluster: string;
  natsPort: string;
  adminPort: string;
  nodes: string;
  bpm: string;
}

const BIN = fileURLToPath(new URL('../../bin/backbeat.js', import.meta.url));

/** Registers `backbeat cluster`. */
export function registerCluster(program: Command): void {
  addClusterFlag(program.command('cluster'))
    .description('run a local nats-server (JetStream) and pulse nodes with admin APIs on consecutive ports')
    .option('--nats-port <port>', 'port of the local nats-server', '4222')
    .option(
      '--admin-port <port>',
      'admin port of the first pulse node; the next ones count up (each must be free)',
      '8080',
    )
    .option('--nodes <n>', 'pulse nodes', '2')
    .option('--bpm <n>', 'tempo of a new grid', '12')
    .action(async (f: ClusterFlags) => runCluster(f));
}

async function runCluster(f: ClusterFlags): Promise<void> {
  const natsPort = intFlag('--nats-port', f.natsPort, 1, 65535);
  const adminPort = intFlag('--admin-port', f.adminPort, 1, 65535);
  const nodes = intFlag('--nodes', f.nodes, 1, 9);
  let natsServer: string;
  try {
    natsServer = natsServerBinary().path;
  } catch (err) {
    throw new UsageError('nats-server', (err as Error).message);
  }
  // Fail fast (docs/spec.md §13 Operating it): every port this command's children will bind is
  // free now.
  await assertPortFree('127.0.0.1', natsPort, { host: '--nats-port', port: '--nats-port' });
  for (let i = 0; i < nodes; i++)
    await assertPortFree('127.0.0.1', adminPort + i, { host: '--admin-port', port: '--admin-port' });
  const dir = mkdtempSync(join(tmpdir(), 'backbeat-cluster-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: "127.0.0.1:${natsPort}"\njetstream { store_dir: "${join(dir, 'js')}" }\n`);
  const children: ChildProcess[] = [];
  // Whatever happens to this process, its children go with it.
  process.once('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const pretty = process.stdout.isTTY === true && process.env.BACKBEAT_LOG_FORMAT !== 'json';
  const prefix = (name: string, child: ChildProcess) => {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (d: string) => {
        for (const line of d.split('\n'))
          if (line) process.stdout.write(`[${name}] ${pretty ? prettyLine(line) : line}\n`);
      });
    }
    children.push(child);
  };
  prefix('nats', spawn(natsServer, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const url = `nats://127.0.0.1:${natsPort}`;
  await waitForPort(natsPort);
  for (let i = 0; i < nodes; i++) {
    const args = [
      'pulse',
      '--cluster',
      f.cluster,
      '--node-id',
      `pulse-${i + 1}`,
      '--nats',
      url,
      '--admin-port',
      String(adminPort + i),
      '--bpm',
      f.bpm,
    ];
    prefix(
      `pulse-${i + 1}`,
      spawn(process.execPath, [BIN, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BACKBEAT_LOG_FORMAT: 'json' },
      }),
    );
  }
  const admins = Array.from({ length: nodes }, (_, i) => `http://127.0.0.1:${adminPort + i}`).join(' ');
  process.stdout.write(`cluster '${f.cluster}': nats ${url}, pulse admin ${admins} (Ctrl-C stops all)\n`);
  await runUntilSignal(
    async () => {
      const pulses = children.slice(1);
      await Promise.all(pulses.map((c) => stopChild(c)));
      await stopChild(children[0]!);
      rmSync(dir, { recursive: true, force: true });
    },
    (msg) => process.stdout.write(`${msg}\n`),
    6000,
  );
  setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
}

/** SIGTERM, then SIGKILL after `graceMs`: no child outlives the cluster command. */
function stopChild(c: ChildProcess, graceMs = 2500): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not listen on 127.0.0.1:${port} within 5 s`);
}
