import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createPulseMetrics } from '@backbeat/pulse';
import { createReverbMetrics } from '@backbeat/reverb';
import { createClient } from '@backbeat/sdk';
import { MemoryBus } from '@backbeat/transport';

// The deploy/ folder: Dockerfile, compose file, Prometheus rules and config, Grafana dashboard.
const deploy = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const read = (path: string) => readFileSync(join(deploy, path), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'bb-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs promtool (Debian package `prometheus`); a missing promtool fails the test, it never skips it. */
function promtool(args: string[]): string {
  const which = spawnSync('sh', ['-c', 'command -v promtool']);
  if (which.status !== 0)
    throw new Error('promtool is not installed: `apt-get install prometheus` (npm test installs it when run as root)');
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`promtool ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Every metric name the services export, read from their real registries (histograms with their series suffixes). */
async function exportedMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  const add = async (r: Registry) => {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  };
  await add(createPulseMetrics().registry);
  await add(createReverbMetrics().registry);
  const sdkRegistry = new Registry();
  const bus = new MemoryBus();
  const c = createClient({ clusterId: 'x', agentId: 'agent:x', bus, registry: sdkRegistry });
  try {
    await c.start();
    await add(sdkRegistry);
  } finally {
    await c.stop();
    await bus.close();
  }
  return names;
}

const referenced = (text: string) => new Set(text.match(/backbeat_[a-z_]+/g) ?? []);

type Dashboard = {
  uid: string;
  schemaVersion: number;
  panels: Array<{ id: number; title: string; targets: Array<{ refId: string; expr: string }> }>;
};
const dashboard = () => JSON.parse(read('grafana/dashboards/backbeat.json')) as Dashboard;

/** The compose file's services, each as its own block of lines (the file keeps a flat, two-space layout). */
function composeServices(text: string): Map<string, string> {
  const services = new Map<string, string>();
  const body = text.split(/^services:\s*$/m)[1]?.split(/^\S/m)[0] ?? '';
  for (const block of body.split(/^(?= {2}[a-z0-9-]+:\s*$)/m)) {
    const name = /^ {2}([a-z0-9-]+):\s*$/m.exec(block)?.[1];
    if (name) services.set(name, block);
  }
  return services;
}

describe('deploy - Prometheus rules and config', () => {
  it('deploy - promtool accepts the alert rules and the scrape config', () => {
    expect(promtool(['check', 'rules', join(deploy, 'prometheus/alerts.yml')])).toMatch(/SUCCESS: 10 rules found/);
    expect(promtool(['check', 'config', join(deploy, 'prometheus/prometheus.yml')])).toMatch(
      /SUCCESS: 1 rule files found/,
    );
  });

  it('deploy - every alert fires on its bad series and stays quiet on the healthy ones (promtool test rules)', () => {
    expect(promtool(['test', 'rules', join(deploy, 'prometheus/alerts.test.yml')])).toMatch(/SUCCESS/);
  });

  it(
    'deploy - the alerts cover the integration guide and the pulse seed, ' +
      'each with for, severity, summary and description',
    () => {
      const rules = read('prometheus/alerts.yml');
      const blocks = rules.split(/^\s+- alert: /m).slice(1);
      const names = blocks.map((b) => b.split('\n')[0]!.trim());
      expect(names.sort()).toEqual(
        [
          'BeatProcessingSlow',
          'HlcDrift',
          'LeadershipChanged',
          'LocalDegradation',
          'MissedBeats',
          'NoLeader',
          'PulseJitterHigh',
          'SchemaValidationFailures',
          'SeveralLeaders',
          'TimerDrift',
        ]
          .map((n) => `Backbeat${n}`)
          .sort(),
      );
      for (const b of blocks) {
        expect(b, b.split('\n')[0]).toMatch(/^\s+for: \d+[sm]$/m);
        expect(b, b.split('\n')[0]).toMatch(/severity: (info|warning|critical)/);
        expect(b, b.split('\n')[0]).toMatch(/^\s+summary: \S/m);
        expect(b, b.split('\n')[0]).toMatch(/^\s+description: \S/m);
      }
      const scrape = read('prometheus/prometheus.yml');
      for (const target of ['"pulse-1:8080"', '"pulse-2:8081"', '"reverb:8090"']) expect(scrape).toContain(target);
    },
  );
});

describe('deploy - Grafana dashboard', () => {
  it('deploy - the dashboard is provisioned with uid backbeat and every panel query parses as PromQL', () => {
    const d = dashboard();
    expect(d.uid).toBe('backbeat');
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(read('grafana/provisioning/dashboards/backbeat.yml')).toContain('path: /var/lib/grafana/dashboards');
    expect(read('grafana/provisioning/datasources/prometheus.yml')).toMatch(
      /uid: prometheus[\s\S]*url: http:\/\/prometheus:9090/,
    );
    // promtool has no expression checker: the queries go in as recording rules (JSON is YAML).
    const rules = d.panels.flatMap((p) =>
      p.targets.map((t) => ({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: t.expr })),
    );
    expect(rules.length).toBeGreaterThanOrEqual(18);
    writeFileSync(join(tmp, 'dashboard-rules.json'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    expect(promtool(['check', 'rules', join(tmp, 'dashboard-rules.json')])).toMatch(
      new RegExp(`SUCCESS: ${rules.length} rules found`),
    );
  });

  it('deploy - every metric a rule or a panel names is one the services export', async () => {
    const exported = await exportedMetrics();
    const exprs = dashboard()
      .panels.flatMap((p) => p.targets.map((t) => t.expr))
      .join('\n');
    const named = [...referenced(read('prometheus/alerts.yml')), ...referenced(exprs)];
    expect(named.filter((n) => !exported.has(n))).toEqual([]);
    // the panels the deployment promises: pulse, SDK and reverb metrics all appear
    for (const m of [
      'backbeat_tempo_bpm',
      'backbeat_is_leader',
      'backbeat_leadership_term',
      'backbeat_pulse_jitter_seconds_bucket',
      'backbeat_beat_publish_duration_seconds_bucket',
      'backbeat_beats_total',
      'backbeat_frames_skipped_total',
      'backbeat_timer_drift_ratio',
      'backbeat_sdk_callback_duration_seconds_bucket',
      'backbeat_sdk_frames_synthesized_total',
      'backbeat_reverb_claims_total',
      'backbeat_reverb_claims_rejected_total',
      'backbeat_reverb_rollup_duration_seconds_bucket',
      'backbeat_reverb_agents_reporting',
    ]) {
      expect(referenced(exprs), m).toContain(m);
    }
  });
});

describe('deploy - compose file and image', () => {
  it(
    'deploy - compose: the nine services, loopback-only ports, health checks, ' +
      'files that exist, secrets only in the environment',
    () => {
      const compose = read('docker-compose.yml');
      const services = composeServices(compose);
      expect([...services.keys()].sort()).toEqual([
        'grafana',
        'mirrors',
        'nats-1',
        'nats-2',
        'nats-3',
        'prometheus',
        'pulse-1',
        'pulse-2',
        'reverb',
      ]);
      // every list item under a `ports:` key, quoted or not
      const ports = [...compose.matchAll(/^( +)ports:\s*\n((?:\1 +- .*\n)+)/gm)].flatMap((m) =>
        m[2]!
          .trim()
          .split('\n')
          .map((l) => l.trim().slice(2).replace(/"/g, '')),
      );
      expect(ports).toHaveLength(11);
      for (const p of ports) expect(p).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      for (const [, src] of compose.matchAll(/^\s+- \.\/([^:]+):/gm))
        expect(existsSync(join(deploy, src!)), src).toBe(true);
      for (const name of ['nats-1', 'nats-2', 'nats-3']) {
        const block = services.get(name)!;
        expect(block, name).toContain('command: ["-c", "/etc/nats/nats-server.conf"]');
        expect(block, name).toContain(`SERVER_NAME: ${name}`);
        // deploy/README.md Versions: which to avoid and why
        expect(block, name).toContain('image: nats:2.14.10-alpine');
        // double-quoted for nats-server, which would read an unquoted value that starts with a digit as a number
        for (const role of ['PULSE', 'REVERB', 'AGENT', 'OBSERVER', 'VIEW'])
          expect(block, name).toContain(`BACKBEAT_NATS_${role}_PASS: '"\${BACKBEAT_NATS_${role}_PASS:?`);
      }
      const natsConf = read('nats/nats-server.conf');
      expect(natsConf).toMatch(/^\s+sync_interval: always$/m);
      expect(natsConf).toContain('include "auth.conf"');
      for (const n of [1, 2, 3]) expect(natsConf).toContain(`"nats-route://nats-${n}:6222"`);
      for (const name of ['pulse-1', 'pulse-2', 'reverb']) {
        const block = services.get(name)!;
        expect(block, name).toContain(
          '"--nats", "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222", "--replicas", "3"',
        );
        expect(block, name).toMatch(/BACKBEAT_NATS_PASS: "\$\{BACKBEAT_NATS_(PULSE|REVERB)_PASS:\?/);
        expect(block, name).toMatch(/build: \{ context: \.\., dockerfile: deploy\/Dockerfile \}/);
        expect(block, name).toMatch(/healthcheck:[\s\S]*\/ready/);
      }
      for (const [name, port] of [
        ['pulse-1', '8080'],
        ['pulse-2', '8081'],
      ] as const) {
        expect(services.get(name), name).toContain(`"--admin-port", "${port}", "--admin-host", "0.0.0.0"]`);
      }
      for (const name of ['pulse-1', 'pulse-2', 'reverb'])
        expect(services.get(name), name).toContain('BACKBEAT_ADMIN_TOKEN: "${BACKBEAT_ADMIN_TOKEN:?');
      expect(compose).not.toMatch(/"--[a-z-]*(token|pass)"/); // no secret on a command line
      expect(services.get('reverb')).toContain('"--signatures", "verify", "--trust-file", "/etc/backbeat/trust.json"');
      expect(services.get('mirrors')).toContain(
        '"mirrors", "--cluster", "chorus-aus-01", "--nats-user", "view", "--nats-inbox-prefix", "_INBOX.view"',
      );
      // mirrors runs once and exits
      for (const [name, block] of services) if (name !== 'mirrors') expect(block, name).toMatch(/healthcheck:/);
    },
  );

  it('deploy - Dockerfile: multi-stage node 20 build, dev dependencies pruned, non-root, backbeat entrypoint', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM node:20-bookworm-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm ci[\s\S]*npm run build[\s\S]*npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "packages/cli/bin/backbeat.js"]');
    expect(dockerfile).toContain('CMD ["--help"]');
    expect(existsSync(join(deploy, '../packages/cli/bin/backbeat.js'))).toBe(true);
    expect(read('Dockerfile.dockerignore')).toMatch(/^\*\*\/node_modules$/m);
  });
});
