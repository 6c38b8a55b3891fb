/**
 * `backbeat pulse`: one pulse node with its admin API (the pulse seed's flags, docs/spec.md §7
 * Election, terms and fencing).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidArgumentError, loopbackBindProblem } from '@backbeat/core';
import type { NatsConfig } from '@backbeat/transport';
import { buildAdminApp, Pulse, resolvePulseOptions } from '@backbeat/pulse';
import { runUntilSignal } from '../lifecycle.js';
import { listenOrExplain } from '../listen.js';
import { createLogger } from '../logger.js';
import {
  addClusterFlag,
  addNatsFlags,
  addReplicasFlag,
  connectBus,
  natsConfigFrom,
  replicasFlag,
  shownNatsUrl,
  type NatsFlags,
} from '../nats-flags.js';
import { addAdminTokenFlags, adminTokenOf, type AdminTokenFlags } from '../secrets.js';
import { intFlag, numberFlag, UsageError } from '../usage.js';

/** Option field -> flag, for error messages. */
const FLAG_OF: Record<string, string> = {
  barLength: 'bar',
  cluster_id: 'cluster',
  phases: 'phases',
  'min-bpm/max-bpm': 'min-bpm',
};

interface PulseFlags extends NatsFlags, AdminTokenFlags {
  replicas: string;
  cluster: string;
  nodeId?: string;
  bpm: string;
  bar: string;
  phases: string;
  minBpm: string;
  maxBpm: string;
  adminPort: string;
  adminHost?: string;
  dataDir?: string;
  leaseTtl?: string;
  maxClockOffset: string;
  kvOutageGrace?: string;
  leaseMarkers: string;
  streamPlacement: string;
  emitter: string;
  beatFencing?: 'server' | 'sender';
  logLevel?: string;
}

/** The node id: the flag, else the one kept in the data dir, else a new one; kept in the data dir either way. */
export function resolveNodeId(prefix: string, flag: string | undefined, dataDir: string | undefined): string {
  if (!dataDir) return flag || `${prefix}-${randomBytes(4).toString('hex')}`;
  const file = join(dataDir, 'node-id');
  let kept = '';
  try {
    kept = readFileSync(file, 'utf8').trim();
  } catch {
    /* first start */
  }
  if (kept && (!flag || flag === kept)) return kept;
  const id = flag || `${prefix}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${id}\n`);
  } catch (err) {
    throw new UsageError('--data-dir', `cannot write ${file}: ${(err as Error).message}`);
  }
  return id;
}

/** `--emitter`: the emitter thread's connection settings, or undefined for the in-thread emitter. */
function emitterFlag(f: PulseFlags): NatsConfig | undefined {
  if (f.emitter !== 'thread' && f.emitter !== 'inline')
    throw new UsageError('--emitter', `must be 'thread' or 'inline', got '${f.emitter}'`);
  return f.emitter === 'thread'
    ? natsConfigFrom(f, `backbeat-pulse ${f.nodeId ?? ''} emitter`.replace('  ', ' '))
    : undefined;
}

/** `--kv-outage-grace` (or BACKBEAT_KV_OUTAGE_GRACE): ms, or undefined for the default. */
function kvOutageGraceFlag(raw: string | undefined): number | undefined {
  return raw === undefined || raw === '' ? undefined : intFlag('--kv-outage-grace', raw, 0, 600_000);
}

/** An on/off flag. @throws UsageError for anything else */
function onOffFlag(flag: string, raw: string): boolean {
  if (raw !== 'on' && raw !== 'off') throw new UsageError(flag, `must be 'on' or 'off', got '${raw}'`);
  return raw === 'on';
}

/** `--stream-placement`. @throws UsageError for anything but 'off' and 'away-from-leader' */
function streamPlacementFlag(raw: string): 'off' | 'away-from-leader' {
  if (raw === 'off' || raw === 'away-from-leader') return raw;
  throw new UsageError('--stream-placement', `must be 'off' or 'away-from-leader', got '${raw}'`);
}

/** Registers `backbeat pulse`. */
export function registerPulse(program: Command): void {
  const cmd = addClusterFlag(program.command('pulse'))
    .description('run a pulse node: leader election, BeatFrames, admin API (BACKBEAT-REQ-001..005)')
    .option('--node-id <id>', 'node id (generated, and kept in --data-dir, when empty)')
    .option(
      '--bpm <n>',
      "tempo of a new grid, within --min-bpm..--max-bpm (the spec's 12; `backbeat dev` uses 60 so a demo moves)",
      '12',
    )
    .option('--bar <n>', "beats per bar (the spec's 8; `backbeat dev` uses 4)", '8')
    .option('--phases <list>', "phases of a beat ('work' means execute)", 'plan,execute,review')
    .option('--min-bpm <n>', 'lowest tempo a change may set', '4')
    .option('--max-bpm <n>', 'highest tempo a change may set', '24')
    .option(
      '--lease-ttl <ms>',
      'leader lease TTL in ms; must match the lease bucket (default: its TTL, 2000 for a new one)',
    )
    .option('--max-clock-offset <ms>', 'largest clock offset against the NATS servers a leader may have', '20')
    .option(
      '--kv-outage-grace <ms>',
      'how long past its lease the leader keeps publishing while the lease KV has no stream leader ' +
        '(nobody can take the lease then); in a network partition the old leader may publish this long to ' +
        "clients on its side, whose SDK drops frames of a term that is not the lease's; 0: stop at the " +
        "lease's expiry (or BACKBEAT_KV_OUTAGE_GRACE; default 15000)",
    )
    .option(
      '--lease-markers <on|off>',
      "'on': the lease bucket gets limit markers where the server has them (nats-server 2.11.7+), so a standby " +
        "sees the lease expire and takes it at once; 'off': standbys poll for an expired lease",
      'on',
    )
    .option(
      '--stream-placement <mode>',
      "'away-from-leader': the leading node keeps the Raft leaders of the lease and state buckets' streams " +
        'off its own NATS server (asks them to step down), so a cut of its host does not also stop the lease; ' +
        "'off': leave them where they are",
      'away-from-leader',
    )
    .option(
      '--beat-fencing <who>',
      "'server': frames go through the cluster's beat stream, whose NATS server refuses a stale leader's frame " +
        "(default); 'sender': straight to the beat subject, fenced by the sender alone",
    )
    .option(
      '--emitter <where>',
      "'thread': schedule and publish in a worker thread with its own NATS connection; 'inline': in the main thread",
      'thread',
    )
    .option('--admin-port <port>', 'admin API port', '8080')
    .option('--admin-host <host>', 'admin API address (default 127.0.0.1; 0.0.0.0 only with a token)');
  addAdminTokenFlags(cmd, 'POST /tempo (without one the admin API answers loopback requests only)')
    .option('--data-dir <dir>', 'local state directory (or BACKBEAT_DATA_DIR)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (or BACKBEAT_LOG_LEVEL)');
  addNatsFlags(addReplicasFlag(cmd)).action(async (f: PulseFlags) => runPulse(f));
}

async function runPulse(f: PulseFlags): Promise<void> {
  const log = createLogger(f.logLevel, 'backbeat-pulse');
  const token = adminTokenOf(f);
  const host = f.adminHost ?? '127.0.0.1';
  const bindProblem = loopbackBindProblem('the admin API', host, token);
  if (bindProblem) throw new UsageError('--admin-host', bindProblem);
  const port = intFlag('--admin-port', f.adminPort, 0, 65535);
  const dataDir = f.dataDir ?? process.env.BACKBEAT_DATA_DIR;
  const options = {
    clusterId: f.cluster,
    nodeId: resolveNodeId('pulse', f.nodeId, dataDir),
    bpm: numberFlag('--bpm', f.bpm, 0.1, 1000),
    barLength: intFlag('--bar', f.bar, 1, 10_000),
    phases: f.phases.split(','),
    minBpm: numberFlag('--min-bpm', f.minBpm, 0.1, 1000),
    maxBpm: numberFlag('--max-bpm', f.maxBpm, 0.1, 1000),
    leaseTtlMs: f.leaseTtl === undefined ? undefined : intFlag('--lease-ttl', f.leaseTtl, 500, 600_000),
    maxClockOffsetMs: numberFlag('--max-clock-offset', f.maxClockOffset, 0.1, 600_000),
    kvOutageGraceMs: kvOutageGraceFlag(f.kvOutageGrace ?? process.env.BACKBEAT_KV_OUTAGE_GRACE),
    leaseMarkers: onOffFlag('--lease-markers', f.leaseMarkers),
    streamPlacement: streamPlacementFlag(f.streamPlacement),
    replicas: replicasFlag(f.replicas),
    emitterNats: emitterFlag(f),
    beatFencing: f.beatFencing,
    logger: log,
  };
  try {
    resolvePulseOptions(options); // flag errors before connecting
  } catch (err) {
    if (err instanceof InvalidArgumentError)
      throw new UsageError(`--${FLAG_OF[err.context.field] ?? err.context.field}`, err.context.rule);
    throw err;
  }
  // Fail fast (docs/spec.md §13 Operating it): flags are checked above; the admin port is bound
  // before this node touches the cluster (constructing the Pulse does no I/O; start() takes the lease).
  const bus = await connectBus(f, `backbeat-pulse ${options.nodeId}`);
  const pulse = new Pulse({ ...options, bus });
  const admin = buildAdminApp(pulse, { token });
  let adminUrl: string;
  try {
    adminUrl = await listenOrExplain(admin, host, port, { host: '--admin-host', port: '--admin-port' });
  } catch (err) {
    await bus.close();
    throw err;
  }
  pulse.setAdminAddress(adminUrl);
  try {
    await pulse.start();
  } catch (err) {
    await Promise.allSettled([pulse.stop(), admin.close()]);
    await bus.close();
    throw err;
  }
  log.info({ admin: adminUrl, nats: shownNatsUrl(f) }, 'admin API listening');
  await runUntilSignal(
    async () => {
      await pulse.stop();
      await admin.close();
      await bus.close();
    },
    (msg) => log.info({}, msg),
  );
  setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
}
