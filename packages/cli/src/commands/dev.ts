/**
 * `backbeat dev` (npm start): the whole system in one process: pulse nodes, reverb,
 * simulated agents and the dashboard at http://127.0.0.1:8080/, on the in-memory bus (the
 * same code paths as on NATS, SPEC 3) or on a real broker with --nats.
 */
import type { Command } from 'commander';
import Fastify from 'fastify';
import { TempoChangeError } from '@backbeat/core';
import { registerDashboard } from '@backbeat/dashboard';
import { bearerMatches, Pulse } from '@backbeat/pulse';
import { buildReverbApp, Reverb, TrustStore } from '@backbeat/reverb';
import { MemoryBus, type Bus } from '@backbeat/transport';
import { reverbDashboardSource, type TempoChanger } from '../dashboard-source.js';
import { runUntilSignal } from '../lifecycle.js';
import { createLogger } from '../logger.js';
import { connectBus } from '../nats-flags.js';
import { startSimAgents } from '../sim-agents.js';
import { intFlag, numberFlag } from '../usage.js';

interface DevFlags {
  cluster: string;
  port: string;
  host: string;
  agents: string;
  pulseNodes: string;
  bpm: string;
  bar: string;
  nats?: string;
  adminToken?: string;
  logLevel?: string;
}

/** Registers `backbeat dev`. */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run everything in one process (pulse, reverb, simulated agents) with the dashboard at http://127.0.0.1:8080/')
    .option('--cluster <id>', 'cluster id', 'dev')
    .option('--port <port>', 'dashboard and API port', '8080')
    .option('--host <host>', 'dashboard address (loopback by default)', '127.0.0.1')
    .option('--agents <n>', 'simulated agents', '6')
    .option('--pulse-nodes <n>', 'pulse nodes (2 or more for a failover demo)', '1')
    .option('--bpm <n>', 'tempo of a new grid', '60')
    .option('--bar <n>', 'beats per bar', '4')
    .option('--nats <url>', 'use this NATS server instead of the in-memory bus')
    .option('--admin-token <token>', 'bearer token for tempo changes from the dashboard (or BACKBEAT_ADMIN_TOKEN)')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (f: DevFlags) => runDev(f));
}

async function runDev(f: DevFlags): Promise<void> {
  const log = createLogger(f.logLevel, 'backbeat-dev');
  const port = intFlag('--port', f.port, 0, 65535);
  const agentCount = intFlag('--agents', f.agents, 0, 10_000);
  const nodes = intFlag('--pulse-nodes', f.pulseNodes, 1, 9);
  const bpm = numberFlag('--bpm', f.bpm, 1, 600);
  const bar = intFlag('--bar', f.bar, 1, 10_000);
  const token = f.adminToken ?? process.env.BACKBEAT_ADMIN_TOKEN;
  const bus: Bus = f.nats ? await connectBus({ nats: f.nats }, 'backbeat-dev') : new MemoryBus();

  const pulses = Array.from(
    { length: nodes },
    (_, i) => new Pulse({ bus, clusterId: f.cluster, nodeId: `pulse-${i + 1}`, bpm, barLength: bar, minBpm: 1, maxBpm: 600, logger: log.child({ node: `pulse-${i + 1}` }) }),
  );
  for (const p of pulses) await p.start();
  const agents = await startSimAgents({ bus, clusterId: f.cluster, count: agentCount, sign: true, logger: log });
  const reverb = new Reverb({ bus, clusterId: f.cluster, nodeId: 'reverb-dev', signatures: 'require', trust: TrustStore.parse(JSON.stringify(agents.trust)), logger: log.child({ node: 'reverb' }) });
  await reverb.start();

  const changeTempo: TempoChanger = async (body, authorization) => {
    if (token && !bearerMatches(authorization, token)) {
      return { status: 401, body: { error: 'BB_ERR_UNAUTHORIZED', message: 'a valid bearer token is required to change the tempo' } };
    }
    const bpmReq = (body as { tempo_bpm?: unknown } | null)?.tempo_bpm;
    if (typeof bpmReq !== 'number') return { status: 400, body: { error: 'BB_ERR_BAD_REQUEST', message: 'body.tempo_bpm must be a number' } };
    try {
      const pending = await pulses[0]!.requestTempoChange({ tempo_bpm: bpmReq, justification: String((body as { justification?: unknown }).justification ?? '') });
      return { status: 202, body: { accepted: true, pending } };
    } catch (err) {
      if (err instanceof TempoChangeError) return { status: 400, body: { error: err.code, message: err.message, rule: err.context.rule } };
      throw err;
    }
  };

  const app = buildReverbApp(reverb);
  registerDashboard(app, await reverbDashboardSource(reverb, bus, changeTempo));
  app.post('/api/v1/dev/failover', async (_req, reply) => {
    // Failover demo: the leader steps down and comes back as a follower.
    const i = pulses.findIndex((p) => p.leaderStatus().is_leader);
    if (i < 0 || pulses.length < 2) return reply.code(409).send({ error: 'BB_ERR_NO_FAILOVER', message: 'run with --pulse-nodes 2 or more' });
    const old = pulses[i]!;
    await old.stop();
    // Let a follower take over before the old node comes back as a follower.
    const deadline = Date.now() + 3000;
    while (!pulses.some((p) => p !== old && p.leaderStatus().is_leader) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const leader = pulses.find((p) => p !== old && p.leaderStatus().is_leader)?.options.nodeId ?? null;
    pulses[i] = new Pulse({ ...old.options, registry: undefined, nodeId: `${old.options.nodeId.replace(/-r\d+$/, '')}-r${Date.now() % 1000}` });
    await pulses[i]!.start();
    return { stopped: old.options.nodeId, new_leader: leader, restarted_as: pulses[i]!.options.nodeId };
  });
  await app.listen({ host: f.host, port });
  const addr = app.server.address();
  const url = `http://${f.host}:${typeof addr === 'object' && addr ? addr.port : port}/`;
  log.info({ dashboard: url, bus: f.nats ?? 'in-memory', agents: agentCount, pulse_nodes: nodes, bpm, bar }, `BACKBEAT is running: open ${url}`);
  process.stdout.write(`\n  BACKBEAT dev: dashboard at ${url}  (Ctrl-C to stop)\n\n`);

  await runUntilSignal(
    async () => {
      await agents.stop();
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
