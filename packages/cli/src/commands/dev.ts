/**
 * `backbeat dev` (npm start): the whole system in one process: pulse nodes, reverb,
 * simulated agents and the dashboard at http://127.0.0.1:8080/, on the in-memory bus (the
 * same code paths as on NATS, docs/spec.md §3 Subjects and shared state) or on a real broker with
 * --nats.
 *
 * Fail fast: flags are checked and the port is bound before anything touches the cluster.
 * Admin auth (docs/spec.md §10 Security): every request passes reverb's guard; with a token
 * the tempo and failover routes need `Authorization: Bearer <token>`; without one the server
 * binds loopback only, answers loopback `Host`s only and takes JSON state changes from its
 * own origin only.
 */
import type { Command } from 'commander';
import { httpError, loopbackBindProblem, sendHttpError } from '@backbeat/core';
import { registerDashboard } from '@backbeat/dashboard';
import { Pulse, tempoChangeAnswer } from '@backbeat/pulse';
import { buildReverbApp, Reverb, TrustStore } from '@backbeat/reverb';
import { MemoryBus, type Bus } from '@backbeat/transport';
import { reverbDashboardSource } from '../dashboard-source.js';
import { UsageError } from '../errors.js';
import { runUntilSignal } from '../lifecycle.js';
import { listenOrExplain } from '../listen.js';
import { createLogger } from '../logger.js';
import { connectBus, shownNatsUrl } from '../nats-flags.js';
import { addAdminTokenFlags, adminTokenOf, type AdminTokenFlags } from '../secrets.js';
import { startSimAgents, type SimAgents } from '../sim-agents.js';
import { intFlag, numberFlag } from '../usage.js';
import { failover } from './dev-failover.js';

interface DevFlags extends AdminTokenFlags {
  cluster: string;
  port: string;
  host: string;
  agents: string;
  pulseNodes: string;
  bpm: string;
  bar: string;
  nats?: string;
  logLevel?: string;
}

/** `backbeat dev`'s tempo and bar: quick enough to watch; `backbeat pulse` keeps the spec's 12 BPM, 8 beats. */
export const DEV_DEFAULTS = { bpm: '60', bar: '4', minBpm: 1, maxBpm: 600 } as const;

/** Registers `backbeat dev`. */
export function registerDev(program: Command): void {
  const cmd = program
    .command('dev')
    .description(
      'run everything in one process (pulse, reverb, simulated agents) with the dashboard at http://127.0.0.1:8080/',
    )
    .option('--cluster <id>', 'cluster id', 'dev')
    .option('--port <port>', 'dashboard and API port (0 picks a free one)', '8080')
    .option('--host <host>', 'dashboard address; a non-loopback one needs --admin-token', '127.0.0.1')
    .option('--agents <n>', 'simulated agents', '6')
    .option('--pulse-nodes <n>', 'pulse nodes (2 or more for the failover button)', '1')
    .option(
      '--bpm <n>',
      'tempo of a new grid, 1 to 600 (dev uses 60 so a demo moves; `backbeat pulse` defaults to 12)',
      DEV_DEFAULTS.bpm,
    )
    .option('--bar <n>', 'beats per bar (dev uses 4; `backbeat pulse` defaults to 8)', DEV_DEFAULTS.bar)
    .option('--nats <url>', 'use this NATS server instead of the in-memory bus')
    .option('--log-level <level>', 'log level', 'info');
  addAdminTokenFlags(cmd, 'the tempo and failover routes').action(async (f: DevFlags) => runDev(f));
}

async function runDev(f: DevFlags): Promise<void> {
  const log = createLogger(f.logLevel, 'backbeat-dev');
  const port = intFlag('--port', f.port, 0, 65535);
  const agentCount = intFlag('--agents', f.agents, 0, 10_000);
  const nodes = intFlag('--pulse-nodes', f.pulseNodes, 1, 9);
  const bpm = numberFlag('--bpm', f.bpm, DEV_DEFAULTS.minBpm, DEV_DEFAULTS.maxBpm);
  const bar = intFlag('--bar', f.bar, 1, 10_000);
  const token = adminTokenOf(f);
  const bindProblem = loopbackBindProblem('the dev server', f.host, token);
  if (bindProblem) throw new UsageError('--host', bindProblem);
  const bus: Bus = f.nats ? await connectBus({ nats: f.nats }, 'backbeat-dev') : new MemoryBus();

  // Built, not started: constructing does no I/O.
  const pulses = Array.from(
    { length: nodes },
    (_, i) =>
      new Pulse({
        bus,
        clusterId: f.cluster,
        nodeId: `pulse-${i + 1}`,
        bpm,
        barLength: bar,
        minBpm: DEV_DEFAULTS.minBpm,
        maxBpm: DEV_DEFAULTS.maxBpm,
        logger: log.child({ component: `pulse-${i + 1}` }),
      }),
  );
  const reverb = new Reverb({
    bus,
    clusterId: f.cluster,
    nodeId: 'reverb-dev',
    signatures: 'require',
    trust: TrustStore.parse('{"agents":{}}'),
    logger: log.child({ component: 'reverb' }),
  });
  let started!: { resolve: () => void; reject: (err: unknown) => void };
  const startedP = new Promise<void>((resolve, reject) => (started = { resolve, reject }));

  // The guard of docs/spec.md §10 Security runs on every request before its body is read.
  const app = buildReverbApp(reverb, { adminToken: token });
  const leaderPulse = () => pulses.find((p) => p.leaderStatus().is_leader) ?? pulses[0]!;
  registerDashboard(
    app,
    reverbDashboardSource(reverb, bus, startedP, (body) => tempoChangeAnswer(leaderPulse(), body), {
      failover: nodes >= 2,
      localPulses: () => pulses,
    }),
  );
  app.post('/api/v1/dev/failover', async (req, reply) => {
    if (pulses.length < 2)
      return sendHttpError(reply, httpError('BB_ERR_NO_FAILOVER', 'run with --pulse-nodes 2 or more'));
    return failover(pulses);
  });

  let url: string;
  let agents: SimAgents | undefined;
  try {
    url = `${await listenOrExplain(app, f.host, port, { host: '--host', port: '--port' })}/`;
    for (const p of pulses) await p.start();
    agents = await startSimAgents({ bus, clusterId: f.cluster, count: agentCount, sign: true, logger: log });
    reverb.setTrust(TrustStore.parse(JSON.stringify(agents.trust)));
    await reverb.start();
    started.resolve();
  } catch (err) {
    started.reject(err);
    await Promise.allSettled([app.close(), agents?.stop(), reverb.stop(), ...pulses.map((p) => p.stop())]);
    await bus.close();
    throw err;
  }
  log.info(
    {
      dashboard: url,
      bus: f.nats ? shownNatsUrl({ nats: f.nats }) : 'in-memory',
      agents: agentCount,
      pulse_nodes: nodes,
      bpm,
      bar,
      admin_auth: token !== undefined,
    },
    `BACKBEAT is running: open ${url}`,
  );
  process.stdout.write(`\n  BACKBEAT dev: dashboard at ${url}  (Ctrl-C to stop)\n\n`);

  await runUntilSignal(
    async () => {
      await agents?.stop();
      await reverb.stop();
      for (const p of pulses) await p.stop();
      await app.close();
      await bus.close();
    },
    (m) => log.info({}, m),
    3000,
  );
  setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
}
