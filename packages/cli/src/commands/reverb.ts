/** `backbeat reverb`: claim aggregation, bar reports and the HTTP API (docs/spec.md §9 Reverb). */
import type { Command } from 'commander';
import { InvalidArgumentError } from '@backbeat/core';
import {
  assertBindable,
  buildReverbApp,
  listReverbConsumers,
  pruneReverbConsumers,
  resolveReverbOptions,
  Reverb,
  SIGNATURE_MODES,
  TrustStore,
  watchTrustFile,
  type SignatureMode,
} from '@backbeat/reverb';
import { registerDashboard } from '@backbeat/dashboard';
import { proxyTempoTo, reverbDashboardSource } from '../dashboard-source.js';
import { runUntilSignal } from '../lifecycle.js';
import { listenOrExplain } from '../listen.js';
import { createLogger } from '../logger.js';
import {
  addClusterFlag,
  addNatsFlags,
  addReplicasFlag,
  connectBus,
  replicasFlag,
  shownNatsUrl,
  type NatsFlags,
} from '../nats-flags.js';
import { resolveNodeId } from './pulse.js';
import { addAdminTokenFlags, adminTokenOf, readSecret, type AdminTokenFlags } from '../secrets.js';
import { terminalSafe } from '../terminal.js';
import { intFlag, UsageError } from '../usage.js';

interface ReverbFlags extends NatsFlags, AdminTokenFlags {
  replicas: string;
  cluster: string;
  nodeId?: string;
  httpPort: string;
  httpHost: string;
  barLength?: string;
  signatures: string;
  trustFile?: string;
  windowTtl: string;
  claimStreamMaxBytes?: string;
  maxWindows: string;
  verifyThreads?: string;
  dataDir?: string;
  pulseAdmin?: string;
  pulseAdminToken?: string;
  pulseAdminTokenFile?: string;
  listConsumers?: boolean;
  pruneConsumers?: boolean;
  logLevel?: string;
}

/** Registers `backbeat reverb`. */
export function registerReverb(program: Command): void {
  const cmd = addClusterFlag(program.command('reverb'))
    .description('run reverb: durable claim ingestion, bar reports at each downbeat, HTTP API (BACKBEAT-REQ-020..022)')
    .option(
      '--node-id <id>',
      'replica id; names its durable consumer reverb_<id> (default: kept in --data-dir, else <host>-<cluster>)',
    )
    .option('--http-port <port>', 'HTTP API port', '8090')
    .option('--http-host <host>', 'HTTP API address', '127.0.0.1')
    .option('--bar-length <n>', "beats per bar (default: learned from the pulse's tempo map)")
    .option(
      '--signatures <mode>',
      'claims of agents NOT in the trust file: off = accepted, verify = ' +
        'accepted unsigned (a signature they carry is checked), ' +
        'require = refused; an agent in the trust file is always verified, in every mode',
      'verify',
    )
    .option('--trust-file <file>', 'agent public keys (reloaded on SIGHUP and when the file is changed or replaced)')
    .option(
      '--claim-stream-max-bytes <n>',
      'byte limit of the claim stream; when full it refuses new claims (default 1 GiB)',
    )
    .option('--window-ttl <ms>', 'drop reported windows this long after their last update', '300000')
    .option(
      '--max-windows <n>',
      'reported windows kept at most (oldest dropped first; a window is never dropped before its report is stored)',
      '100',
    )
    .option(
      '--verify-threads <n>',
      'threads that check claim signatures (0: on the main thread; default: one per core)',
    )
    .option('--pulse-admin <url>', "a pulse admin API (http://host:8080) the dashboard's tempo form is forwarded to")
    .option(
      '--pulse-admin-token <token>',
      "the pulse admin API's bearer token, sent with forwarded tempo changes (or BACKBEAT_PULSE_ADMIN_TOKEN)",
    )
    .option(
      '--pulse-admin-token-file <file>',
      'file holding the pulse admin token (or BACKBEAT_PULSE_ADMIN_TOKEN_FILE)',
    );
  addAdminTokenFlags(
    cmd,
    "reverb's state-changing routes (the dashboard's tempo form); without it the HTTP API binds loopback only",
  )
    .option('--list-consumers', "list the cluster's durable consumers on the claim stream, orphans marked, and exit")
    .option('--prune-consumers', 'delete the orphaned reverb consumers (no running replica owns them) and exit')
    .option('--data-dir <dir>', 'local state directory (or BACKBEAT_DATA_DIR)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (or BACKBEAT_LOG_LEVEL)');
  addNatsFlags(addReplicasFlag(cmd)).action(async (f: ReverbFlags) => runReverb(f));
}

function loadTrust(file: string): TrustStore {
  try {
    return TrustStore.load(file);
  } catch (err) {
    throw new UsageError('--trust-file', (err as Error).message);
  }
}

async function runConsumers(f: ReverbFlags): Promise<void> {
  const bus = await connectBus(f, 'backbeat-reverb consumers');
  try {
    if (f.pruneConsumers) {
      const deleted = await pruneReverbConsumers(bus, f.cluster);
      process.stdout.write(
        deleted.length === 0
          ? 'no orphaned reverb consumers\n'
          : `deleted ${deleted.length} orphaned consumer${deleted.length === 1 ? '' : 's'}: ${deleted.join(', ')}\n`,
      );
      return;
    }
    const list = await listReverbConsumers(bus, f.cluster);
    if (list.length === 0) process.stdout.write('no durable consumers on the claim stream\n');
    for (const c of list) {
      const fields = [
        c.name,
        c.orphaned ? 'ORPHANED' : 'in use',
        `pending ${c.pending}`,
        `ack pending ${c.ackPending}`,
        c.why,
      ];
      process.stdout.write(`${fields.map(terminalSafe).join('\t')}\n`);
    }
  } finally {
    await bus.close();
  }
}

async function runReverb(f: ReverbFlags): Promise<void> {
  if (f.listConsumers || f.pruneConsumers) return runConsumers(f);
  const log = createLogger(f.logLevel, 'backbeat-reverb');
  if (!(SIGNATURE_MODES as readonly string[]).includes(f.signatures))
    throw new UsageError('--signatures', `must be one of ${SIGNATURE_MODES.join(', ')}, got '${f.signatures}'`);
  const signatures = f.signatures as SignatureMode;
  if (signatures === 'require' && !f.trustFile)
    throw new UsageError('--trust-file', 'is needed with --signatures require');
  const trust = f.trustFile ? loadTrust(f.trustFile) : undefined;
  const options = {
    clusterId: f.cluster,
    nodeId:
      f.nodeId || f.dataDir || process.env.BACKBEAT_DATA_DIR
        ? resolveNodeId('reverb', f.nodeId, f.dataDir ?? process.env.BACKBEAT_DATA_DIR).replace(/[^A-Za-z0-9_-]/g, '_')
        : undefined,
    barLength: f.barLength === undefined ? undefined : intFlag('--bar-length', f.barLength, 1, 10_000),
    signatures,
    trust,
    windowTtlMs: intFlag('--window-ttl', f.windowTtl, 1000, 7 * 24 * 3600 * 1000),
    maxWindows: intFlag('--max-windows', f.maxWindows, 2, 100_000),
    ...(f.claimStreamMaxBytes === undefined
      ? {}
      : {
          claimStreamMaxBytes: intFlag(
            '--claim-stream-max-bytes',
            f.claimStreamMaxBytes,
            1024 * 1024,
            Number.MAX_SAFE_INTEGER,
          ),
        }),
    ...(f.verifyThreads === undefined ? {} : { verifyThreads: intFlag('--verify-threads', f.verifyThreads, 0, 64) }),
    replicas: replicasFlag(f.replicas),
    logger: log,
  };
  try {
    resolveReverbOptions(options); // flag errors before connecting
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(`--${err.context.field}`, err.context.rule);
    throw err;
  }
  const port = intFlag('--http-port', f.httpPort, 0, 65535);
  const adminToken = adminTokenOf(f);
  const pulseToken = readSecret({
    flag: '--pulse-admin-token',
    value: f.pulseAdminToken,
    fileFlag: '--pulse-admin-token-file',
    file: f.pulseAdminTokenFile,
    env: 'BACKBEAT_PULSE_ADMIN_TOKEN',
  });
  try {
    assertBindable(f.httpHost, adminToken);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError('--http-host', err.context.rule);
    throw err;
  }
  if (f.pulseAdmin && !/^https?:\/\/[^\s]+$/.test(f.pulseAdmin))
    throw new UsageError('--pulse-admin', `must be an http(s) URL, got '${f.pulseAdmin}'`);
  // Fail fast (docs/spec.md §13 Operating it): the HTTP port is bound before reverb touches the
  // cluster.
  const bus = await connectBus(f, `backbeat-reverb ${options.nodeId}`);
  const reverb = new Reverb({ ...options, bus });
  const app = buildReverbApp(reverb, { adminToken });
  let started!: { resolve: () => void; reject: (err: unknown) => void };
  const startedP = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
  registerDashboard(
    app,
    reverbDashboardSource(reverb, bus, startedP, f.pulseAdmin ? proxyTempoTo(f.pulseAdmin, pulseToken) : undefined),
  );
  let httpUrl: string;
  try {
    httpUrl = await listenOrExplain(app, f.httpHost, port, { host: '--http-host', port: '--http-port' });
    reverb.setHttpAddress(httpUrl);
    await reverb.start();
    started.resolve();
  } catch (err) {
    started.reject(err);
    await Promise.allSettled([app.close(), reverb.stop()]);
    await bus.close();
    throw err;
  }
  log.info({ http: httpUrl, nats: shownNatsUrl(f) }, 'reverb HTTP API listening');

  // Trust file reloads (docs/spec.md §10 Security): on SIGHUP and whenever the file is rewritten
  // or replaced (its directory is watched); a bad file keeps the old keys.
  const trustWatch = f.trustFile
    ? watchTrustFile(f.trustFile, {
        onLoad: (next, why) => {
          reverb.setTrust(next);
          log.info({ agents: next.size, why }, 'trust file reloaded');
        },
        onError: (err) => log.error({ err: err.message }, 'trust file not reloaded; the previous keys stay in force'),
      })
    : undefined;
  // Without a trust file SIGHUP has nothing to reload, and must not end the service either.
  const ignoreHup = () => log.info({}, 'SIGHUP: no --trust-file to reload');
  if (!trustWatch) process.on('SIGHUP', ignoreHup);
  await runUntilSignal(
    async () => {
      trustWatch?.close();
      process.off('SIGHUP', ignoreHup);
      await app.close();
      await reverb.stop();
      await bus.close();
    },
    (m) => log.info({}, m),
  );
  setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
}
