/** `backbeat agent` and `backbeat watch`: simulated agents, and the beat as the SDK sees it. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createClient } from '@backbeat/sdk';
import { runUntilSignal } from '../lifecycle.js';
import { createLogger } from '../logger.js';
import { addNatsFlags, connectBus, natsConfigFrom, type NatsFlags } from '../nats-flags.js';
import { startSimAgents } from '../sim-agents.js';
import { intFlag } from '../usage.js';

interface AgentFlags extends NatsFlags {
  cluster: string;
  count: string;
  sign?: boolean;
  trustOut?: string;
  logLevel?: string;
}

interface WatchFlags extends NatsFlags {
  cluster: string;
  json?: boolean;
}

/** Registers `backbeat agent` and `backbeat watch`. */
export function registerAgentAndWatch(program: Command): void {
  const agent = program
    .command('agent')
    .description('run N simulated agents in one process: a claim per beat, states cycling through the bar, some failing or blocked')
    .option('--cluster <id>', 'cluster id (or BACKBEAT_CLUSTER_ID)', process.env.BACKBEAT_CLUSTER_ID ?? 'chorus-aus-01')
    .option('--count <n>', 'number of agents', '6')
    .option('--sign', 'sign claims with a fresh Ed25519 key per agent')
    .option('--trust-out <file>', 'with --sign: write the agents\' public keys as a reverb trust file')
    .option('--log-level <level>', 'log level');
  addNatsFlags(agent).action(async (f: AgentFlags) => {
    const log = createLogger(f.logLevel, 'backbeat-agent');
    const count = intFlag('--count', f.count, 1, 10_000);
    const bus = await connectBus(f, 'backbeat-agent');
    const agents = await startSimAgents({ bus, clusterId: f.cluster, count, sign: f.sign, logger: log });
    if (f.trustOut) writeFileSync(f.trustOut, `${JSON.stringify(agents.trust, null, 2)}\n`);
    log.info({ count, cluster: f.cluster, signed: Boolean(f.sign) }, 'simulated agents running');
    await runUntilSignal(
      async () => {
        await agents.stop();
        await bus.close();
      },
      (m) => log.info({}, m),
      3000,
    );
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });

  const watch = program
    .command('watch')
    .description('print every (beat, phase) as the SDK sees it; --json for one JSON line each')
    .option('--cluster <id>', 'cluster id (or BACKBEAT_CLUSTER_ID)', process.env.BACKBEAT_CLUSTER_ID ?? 'chorus-aus-01')
    .option('--json', 'one JSON line per callback: beat_index, phase, source, scheduled_at, lateness_ms');
  addNatsFlags(watch).action(async (f: WatchFlags) => {
    const client = createClient({ clusterId: f.cluster, agentId: 'agent:watch', nats: natsConfigFrom(f, 'backbeat-watch') });
    client.onPhase((frame, info) => {
      const lateness = Math.round((info.receivedAt - info.scheduledAt) * 1000) / 1000;
      if (f.json) {
        const line = { beat_index: frame.beat_index, phase: frame.phase, source: info.source, scheduled_at: new Date(info.scheduledAt).toISOString(), lateness_ms: lateness, tempo_bpm: frame.tempo_bpm, downbeat: frame.downbeat, window_id: frame.window_id };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } else {
        const mark = frame.downbeat && frame.phase === 'plan' ? ' ▼ downbeat' : '';
        process.stdout.write(`beat ${String(frame.beat_index).padStart(6)} ${frame.phase.padEnd(7)} ${info.source.padEnd(6)} ${frame.tempo_bpm} BPM  late ${lateness.toFixed(3)} ms${mark}\n`);
      }
    });
    try {
      await client.start();
    } catch (err) {
      throw new Error(`cannot connect to NATS at ${f.nats}: ${(err as Error).message}`);
    }
    await runUntilSignal(() => client.stop(), () => {});
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });
}
