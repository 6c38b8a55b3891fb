/** `backbeat agent` (simulated agents) and, through watch.ts, `backbeat watch`. */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { hintIfSilent } from '@backbeat/sdk';
import { runUntilSignal } from '../lifecycle.js';
import { createLogger } from '../logger.js';
import { addClusterFlag, addNatsFlags, connectBus, shownNatsUrl, type NatsFlags } from '../nats-flags.js';
import { startSimAgents } from '../sim-agents.js';
import { intFlag, UsageError } from '../usage.js';
import { registerWatch, timingFlag } from './watch.js';

interface AgentFlags extends NatsFlags {
  cluster: string;
  count: string;
  idPrefix?: string;
  sign?: boolean;
  trustOut?: string;
  logLevel?: string;
  timing: string;
}

/** Registers `backbeat agent` and `backbeat watch`. */
export function registerAgentAndWatch(program: Command): void {
  const agent = addClusterFlag(program.command('agent'))
    .description(
      'run N simulated agents in one process: a claim per beat, states ' +
        'cycling through the bar, some failing or blocked',
    )
    .option('--count <n>', 'number of agents', '6')
    .option(
      '--id-prefix <prefix>',
      "agent ids are agent:<prefix>-1..N (letters, digits, '.', '_', '-'; " +
        'default: sim-<6 random hex digits>, new per process)',
    )
    .option('--sign', 'sign claims with a fresh Ed25519 key per agent')
    .option('--trust-out <file>', "with --sign: write the agents' public keys as a reverb trust file")
    .option(
      '--timing <mode>',
      "'frames': slots fire on the leader's frame; 'grid': on the tempo map's instant, confirmed by the leader",
      'frames',
    )
    .option('--log-level <level>', 'log level');
  addNatsFlags(agent).action(async (f: AgentFlags) => {
    const log = createLogger(f.logLevel, 'backbeat-agent');
    const count = intFlag('--count', f.count, 1, 10_000);
    const prefix = idPrefixFlag(f.idPrefix);
    const timing = timingFlag(f.timing);
    const bus = await connectBus(f, 'backbeat-agent');
    const agents = await startSimAgents({
      bus,
      clusterId: f.cluster,
      count,
      prefix,
      sign: f.sign,
      logger: log,
      timing,
    });
    const cancelHint = hintIfSilent(
      agents.clients[0]!,
      (hint) => log.warn({ cluster: f.cluster }, hint),
      undefined,
      shownNatsUrl(f),
    );
    if (f.trustOut) writeFileSync(f.trustOut, `${JSON.stringify(agents.trust, null, 2)}\n`);
    const ids = `agent:${prefix}-1..${count}`;
    log.info({ count, ids, cluster: f.cluster, signed: Boolean(f.sign), timing }, 'simulated agents running');
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

/** Longest `--id-prefix`: `agent:<prefix>-10000` stays within the 128 characters of an agent id. */
const MAX_ID_PREFIX = 100;

/**
 * The agent id prefix: the flag, checked against the agent id rule, or `sim-` and six random
 * hex digits, so two simulators (two processes, two hosts) never name their agents alike:
 * claims of the same agent id and HLC are one claim to reverb (docs/spec.md §9 Reverb).
 * @throws UsageError naming the flag and the rule
 */
export function idPrefixFlag(raw: string | undefined): string {
  if (raw === undefined) return `sim-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]+$/.test(raw) || raw.length > MAX_ID_PREFIX) {
    throw new UsageError('--id-prefix', `must be 1 to ${MAX_ID_PREFIX} letters, digits, '.', '_' or '-', got '${raw}'`);
  }
  return raw;
}
