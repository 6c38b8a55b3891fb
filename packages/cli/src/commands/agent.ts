/** `backbeat agent` (simulated agents) and, through watch.ts, `backbeat watch`. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { hintIfSilent } from '@backbeat/sdk';
import { runUntilSignal } from '../lifecycle.js';
import { createLogger } from '../logger.js';
import { addClusterFlag, addNatsFlags, connectBus, shownNatsUrl, type NatsFlags } from '../nats-flags.js';
import { startSimAgents } from '../sim-agents.js';
import { intFlag } from '../usage.js';
import { registerWatch, timingFlag } from './watch.js';

interface AgentFlags extends NatsFlags {
  cluster: string;
  count: string;
  sign?: boolean;
  trustOut?: string;
  logLevel?: string;
  timing: string;
}

/** Registers `backbeat agent` and `backbeat watch`. */
export function registerAgentAndWatch(program: Command): void {
  const agent = addClusterFlag(program.command('agent'))
    .description('run N simulated agents in one process: a claim per beat, states cycling through the bar, some failing or blocked')
    .option('--count <n>', 'number of agents', '6')
    .option('--sign', 'sign claims with a fresh Ed25519 key per agent')
    .option('--trust-out <file>', 'with --sign: write the agents\' public keys as a reverb trust file')
    .option('--timing <mode>', "'frames': slots fire on the leader's frame; 'grid': on the tempo map's instant, confirmed by the leader", 'frames')
    .option('--log-level <level>', 'log level');
  addNatsFlags(agent).action(async (f: AgentFlags) => {
    const log = createLogger(f.logLevel, 'backbeat-agent');
    const count = intFlag('--count', f.count, 1, 10_000);
    const timing = timingFlag(f.timing);
    const bus = await connectBus(f, 'backbeat-agent');
    const agents = await startSimAgents({ bus, clusterId: f.cluster, count, sign: f.sign, logger: log, timing });
    const cancelHint = hintIfSilent(agents.clients[0]!, (hint) => log.warn({ cluster: f.cluster }, hint), undefined, shownNatsUrl(f));
    if (f.trustOut) writeFileSync(f.trustOut, `${JSON.stringify(agents.trust, null, 2)}\n`);
    log.info({ count, cluster: f.cluster, signed: Boolean(f.sign), timing }, 'simulated agents running');
    await runUntilSignal(
      async () => {
        cancelHint();
        await agents.stop();
        await bus.close();
      },
      (m) => log.info({}, m),
      3000,
    );
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });

  registerWatch(program);
}
