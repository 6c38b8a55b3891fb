/**
 * deploy/docker-compose.yml brought up natively for deploy-run.test.ts (no Docker engine here):
 * the documented secrets made as the README makes them, each NATS node and BACKBEAT service
 * started as compose would start it (compose-native.ts holds compose's rules), and the observer
 * and agent logins listening. The state is exported for the tests to read.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { ManagedProcess, natsServerBinary, waitFor } from '@backbeat/testing';
import { parseTermHeader, TERM_HEADER } from '@backbeat/contracts';
import { NatsBus, clusterNames, subjects } from '@backbeat/transport';
import {
  HostMap,
  containerEnv,
  dockerfileEntrypoint,
  dockerfileEnv,
  durationMs,
  healthyWithinMs,
  loadCompose,
  parseVolume,
  runHealthcheck,
  startOrder,
  type ComposeFile,
} from './compose-native.js';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const deploy = join(repo, 'deploy');
export const C = 'chorus-aus-01';
export const S = subjects(C);
export const N = clusterNames(C);
export const AGENTS = 3;
export const ROLES = ['PULSE', 'REVERB', 'AGENT', 'OBSERVER', 'VIEW'] as const;

/** `openssl rand -hex 24`. */
const hex24 = () => randomBytes(24).toString('hex');
/**
 * Every documented secret, as the README's recipe makes them: most start with a digit, one reads as a
 * float and one as an integer if unquoted.
 */
export const secrets: Record<string, string> = {
  BACKBEAT_ADMIN_TOKEN: `${randomInt(10)}${hex24().slice(1)}`,
  BACKBEAT_NATS_PULSE_PASS: hex24(),
  BACKBEAT_NATS_REVERB_PASS: `${randomInt(1, 10)}${hex24().slice(1)}`,
  BACKBEAT_NATS_AGENT_PASS: `0e7${hex24().replace(/[a-f]/g, '').padEnd(45, '7').slice(0, 45)}`,
  BACKBEAT_NATS_OBSERVER_PASS: `9${hex24().slice(1)}`,
  BACKBEAT_NATS_VIEW_PASS: Array.from({ length: 48 }, () => randomInt(10)).join(''),
  GRAFANA_ADMIN_PASSWORD: `${randomInt(10)}${hex24().slice(1)}`,
};
export const pass = (role: (typeof ROLES)[number]) => secrets[`BACKBEAT_NATS_${role}_PASS`]!;

export const read = (p: string) => readFileSync(join(deploy, p), 'utf8');
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export let compose: ComposeFile;
export let hosts: HostMap;
export let tmp: string;
export const procs = new Map<string, ManagedProcess>();
export const healthchecks = new Map<string, { test: string[]; timeoutMs: number; healthyWithinMs: number }>();
/** ms from the first process start until each service was started / healthy / done. */
export const timeline: Record<string, number> = {};
export const buses: NatsBus[] = [];
export let observer: NatsBus;
export let agentBus: NatsBus;
export let trustFile: string;
export let natsUrls: string;
/** Frames heard by the observer; term from the frame's term header. */
export const frames: Array<{ term: number | null; beat_index: number; phase: string; cluster_id: string; at: number }> =
  [];
export const agentFrames: unknown[] = [];
export const reports: Array<{
  from_beat: number;
  agents_reporting: number;
  state_counts?: Record<string, number>;
  issues: Array<{ code?: string; kind?: string } | string>;
}> = [];
export const liveDlq: Array<{ reason: string; data: string }> = [];

/** Services this test runs: the NATS nodes and every service built from deploy/Dockerfile. */
export function ourServices(c: ComposeFile): { nats: string[]; backbeat: string[]; other: string[] } {
  const names = Object.keys(c.services);
  const nats = names.filter((n) => c.services[n]!.image?.startsWith('nats:'));
  const backbeat = names.filter((n) => c.services[n]!.build?.dockerfile === 'deploy/Dockerfile');
  return { nats, backbeat, other: names.filter((n) => !nats.includes(n) && !backbeat.includes(n)) };
}

export function connectAs(user: 'agent' | 'observer', name: string): Promise<NatsBus> {
  return NatsBus.connect({
    servers: natsUrls.split(','),
    user,
    pass: pass(user === 'agent' ? 'AGENT' : 'OBSERVER'),
    inboxPrefix: `_INBOX.${user}`,
    name,
  });
}

/** The CLI as the image runs it, with a login's environment (BACKBEAT_NATS_PASS, as the README says). */
export function cli(args: string[], role: 'AGENT' | 'OBSERVER', timeoutMs = 20_000) {
  const env = containerEnv({ ...dockerfileEnv(read('Dockerfile')), BACKBEAT_NATS_PASS: pass(role) });
  const [, script] = dockerfileEntrypoint(read('Dockerfile'));
  return spawnSync(process.execPath, [script!, ...args], { cwd: repo, env, encoding: 'utf8', timeout: timeoutMs });
}

export const login = (user: 'agent' | 'observer') => [
  '--nats',
  natsUrls,
  '--nats-user',
  user,
  '--nats-inbox-prefix',
  `_INBOX.${user}`,
];

/** Starts every service of `order` as compose would: each once its depends_on conditions hold. */
async function upAll(order: string[], launchers: Map<string, () => ManagedProcess>): Promise<void> {
  const t0 = Date.now();
  const started = new Map<string, Promise<ManagedProcess>>();
  const healthy = new Map<string, Promise<void>>();
  const done = new Map<string, Promise<void>>();
  const start = (name: string): Promise<ManagedProcess> => {
    if (!started.has(name)) {
      const deps = Object.entries(compose.services[name]!.depends_on ?? {}).map(([dep, { condition }]) =>
        condition === 'service_healthy'
          ? isHealthy(dep)
          : condition === 'service_started'
            ? start(dep)
            : completed(dep),
      );
      started.set(
        name,
        Promise.all(deps).then(() => {
          const p = launchers.get(name)!();
          procs.set(name, p);
          timeline[`${name} started`] = Date.now() - t0;
          return p;
        }),
      );
    }
    return started.get(name)!;
  };
  const isHealthy = (name: string): Promise<void> => {
    if (!healthy.has(name)) {
      healthy.set(
        name,
        start(name).then(async (p) => {
          const hc = healthchecks.get(name);
          if (!hc) throw new Error(`${name} has no healthcheck, but a service waits for it to be healthy`);
          let last = '';
          await waitFor(
            () => {
              if (!p.running)
                throw new Error(
                  `${name} exited (${p.child.exitCode ?? p.child.signalCode}):\n` +
                    `${p.stdout.slice(-1500)}\n${p.stderr.slice(-1500)}`,
                );
              const r = runHealthcheck(hc.test, hc.timeoutMs);
              last = r.output;
              return r.ok;
            },
            {
              // As long as compose would wait before calling it unhealthy (checked more often than compose does).
              timeoutMs: hc.healthyWithinMs,
              intervalMs: 250,
              message: `${name}'s healthcheck (${hc.test.join(' ')})`,
            },
          ).catch((err: Error) => {
            // The end of every started process's output: a node that never turns healthy often waits on another.
            const tails = [...procs]
              .map(
                ([n, q]) => `--- ${n} (${q.running ? 'running' : 'exited'}) ---\n${(q.stdout + q.stderr).slice(-1500)}`,
              )
              .join('\n');
            throw new Error(`${err.message}; its last output: ${last}\n${tails}`);
          });
          timeline[`${name} healthy`] = Date.now() - t0;
        }),
      );
    }
    return healthy.get(name)!;
  };
  const completed = (name: string): Promise<void> => {
    if (!done.has(name)) {
      done.set(
        name,
        start(name).then(async (p) => {
          const code = await p.exited;
          if (code !== 0)
            throw new Error(`${name} exited ${code}:\n${p.stdout.slice(-2000)}\n${p.stderr.slice(-2000)}`);
          timeline[`${name} done`] = Date.now() - t0;
        }),
      );
    }
    return done.get(name)!;
  };
  // Compose's `up` starts everything; a service with a healthcheck is waited for, a job (no healthcheck) to its exit.
  await Promise.all(
    order.map((n) =>
      healthchecks.has(n) ? isHealthy(n) : compose.services[n]!.restart === 'on-failure' ? completed(n) : start(n),
    ),
  );
}

/**
 * Brings the deploy up before the file's tests (every service in depends_on order, the observer
 * and agent logins, the simulated agents) and stops every process after them, also when a test
 * or the start fails.
 */
export function useDeployRun(): void {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bb-deploy-run-'));
    compose = loadCompose(join(deploy, 'docker-compose.yml'), secrets);
    hosts = new HostMap(compose);
    const { nats, backbeat } = ourServices(compose);
    const binary = natsServerBinary().path;
    const dockerfile = read('Dockerfile');
    const [, script] = dockerfileEntrypoint(dockerfile);
    const launchers = new Map<string, () => ManagedProcess>();
    for (const name of [...nats, ...backbeat]) {
      const svc = compose.services[name]!;
      const volumes = (svc.volumes ?? []).map((spec) => parseVolume(spec, deploy));
      const hostPath = (v: (typeof volumes)[number]) => join(tmp, name, v.named ? v.source : basename(v.source));
      for (const v of volumes) hosts.mount(name, v.inside, hostPath(v));
      for (const v of volumes) {
        if (v.named) mkdirSync(hostPath(v), { recursive: true });
        else await hosts.template(name, v.source, hostPath(v));
        if (v.inside === '/etc/backbeat/trust.json') trustFile = hostPath(v);
      }
      if (nats.includes(name)) {
        // Never start a node whose store or addresses were not mapped (it would write to /data, or bind 0.0.0.0).
        const conf = readFileSync(join(tmp, name, 'nats', 'nats-server.conf'), 'utf8');
        if (!conf.includes(`store_dir: "${join(tmp, name)}`) || /0\.0\.0\.0|nats-\d:/.test(conf))
          throw new Error(`${name}: nats-server.conf was not templated:\n${conf}`);
      }
      const args = await hosts.rewriteArgs(name, svc.command ?? []);
      if (svc.healthcheck)
        healthchecks.set(name, {
          test: await hosts.rewriteArgs(name, svc.healthcheck.test),
          timeoutMs: durationMs(svc.healthcheck.timeout, 30_000),
          healthyWithinMs: healthyWithinMs(svc.healthcheck),
        });
      const env = svc.environment ?? {};
      launchers.set(
        name,
        nats.includes(name)
          ? () => ManagedProcess.spawn(binary, args, { env: containerEnv(env) })
          : () =>
              ManagedProcess.spawn(process.execPath, [script!, ...args], {
                cwd: repo,
                env: containerEnv({ ...dockerfileEnv(dockerfile), ...env }),
              }),
      );
    }
    natsUrls = (await Promise.all(nats.map(async (n) => `nats://127.0.0.1:${await hosts.port(n, 4222)}`))).join(',');
    await upAll(startOrder(compose, [...nats, ...backbeat]), launchers);

    observer = await connectAs('observer', 'deploy-run-observer');
    agentBus = await connectAs('agent', 'deploy-run-agent');
    buses.push(observer, agentBus);
    observer.subscribe(S.beat, (m) =>
      frames.push({ ...JSON.parse(dec(m.data)), term: parseTermHeader(m.headers[TERM_HEADER]), at: Date.now() }),
    );
    observer.subscribe(S.reverb, (m) => reports.push(JSON.parse(dec(m.data))));
    observer.subscribe(S.dlq, (m) => liveDlq.push({ reason: m.headers?.['x-reason'] ?? '', data: dec(m.data) }));
    agentBus.subscribe(S.beat, (m) => agentFrames.push(m.data));
    await Promise.all([observer.flush(), agentBus.flush()]);

    // Agents as the README says: the agent login, signed claims, their keys in reverb's trust file.
    const agents = ManagedProcess.spawn(
      process.execPath,
      [
        script!,
        'agent',
        '--cluster',
        C,
        '--count',
        String(AGENTS),
        '--sign',
        '--trust-out',
        trustFile,
        ...login('agent'),
      ],
      { cwd: repo, env: containerEnv({ ...dockerfileEnv(dockerfile), BACKBEAT_NATS_PASS: pass('AGENT') }) },
    );
    procs.set('agents', agents);
    await agents.waitForOutput(/simulated agents running/, 20_000);
    await procs
      .get('reverb')!
      .waitForOutput(
        new RegExp(`"agents":${AGENTS}[^\\n]*trust file reloaded|trust file reloaded[^\\n]*"agents":${AGENTS}`),
        10_000,
      );
  }, 90_000);

  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => {});
    for (const p of [...procs.values()].reverse()) await p.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    console.log(`deploy run timeline (ms from the first start): ${JSON.stringify(timeline)}`);
    // What each BACKBEAT service warned about (JSON log lines of level warn and above), for a failing run.
    for (const [name, p] of procs) {
      const warned = (p.stdout + p.stderr).split('\n').filter((l) => /"level":(4|5|6)0/.test(l));
      if (warned.length > 0) console.log(`${name} warned:\n${warned.slice(0, 20).join('\n')}`);
    }
  });
}
