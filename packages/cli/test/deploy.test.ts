import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createPulseMetrics } from '@backbeat/pulse';
import { createReverbMetrics } from '@backbeat/reverb';
import { createClient } from '@backbeat/sdk';
import { MemoryBus } from '@backbeat/transport';

const deploy = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bb-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function promtool(args: string[]): string {
  const which = spawnSync('sh', ['-c', 'command -v promtool']);
  if (which.status !== 0) throw new Error('promtool is not installed: `apt-get install prometheus` (npm test installs it when run as root)');
  return execFileSync('promtool', args, { encoding: 'utf8' });
}

/** Every metric name the services export, read from their real registries. */
async function exportedMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  const add = async (r: Registry) => {
    for (const m of await r.getMetricsAsJSON()) {
      names.add(m.name);
      if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  };
  await add(createPulseMetrics().registry);
  await add(createReverbMetrics().registry);
  const sdkRegistry = new Registry();
  const bus = new MemoryBus();
  const c = createClient({ clusterId: 'x', agentId: 'agent:x', bus, registry: sdkRegistry });
  await c.start();
  await add(sdkRegistry);
  await c.stop();
  await bus.close();
  return names;
}

const referenced = (text: string) => new Set(text.match(/backbeat_[a-z_]+/g) ?? []);

describe('deploy - Prometheus, Grafana and compose files', () => {
  it('deploy - promtool accepts the alert rules and the scrape config', () => {
    expect(promtool(['check', 'rules', join(deploy, 'prometheus/alerts.yml')])).toMatch(/SUCCESS: 10 rules found/);
    const conf = readFileSync(join(deploy, 'prometheus/prometheus.yml'), 'utf8').replace('/etc/prometheus/alerts.yml', 'alerts.yml');
    writeFileSync(join(tmp, 'prometheus.yml'), conf);
    copyFileSync(join(deploy, 'prometheus/alerts.yml'), join(tmp, 'alerts.yml'));
    expect(promtool(['check', 'config', join(tmp, 'prometheus.yml')])).toMatch(/SUCCESS/);
  });

  it('deploy - the alerts cover the integration guide and the pulse seed', () => {
    const rules = readFileSync(join(deploy, 'prometheus/alerts.yml'), 'utf8');
    for (const name of ['SchemaValidationFailures', 'BeatProcessingSlow', 'MissedBeats', 'HlcDrift', 'PulseJitterHigh', 'TimerDrift', 'LeadershipChanged', 'LocalDegradation']) {
      expect(rules).toContain(`alert: Backbeat${name}`);
    }
    expect(rules).toMatch(/> 0\.01\b/); // validation failures > 1 %, drift > 1 %
    expect(rules).toMatch(/> 0\.020/); // jitter p95 > 20 ms
    expect(rules).toMatch(/> 5\b/); // HLC drift > 5 s
  });

  it('deploy - every metric a rule or a Grafana panel names is one the services export', async () => {
    const exported = await exportedMetrics();
    const rules = readFileSync(join(deploy, 'prometheus/alerts.yml'), 'utf8');
    const dashboard = JSON.parse(readFileSync(join(deploy, 'grafana/dashboards/backbeat.json'), 'utf8')) as { uid: string; panels: Array<{ targets: Array<{ expr: string }> }> };
    expect(dashboard.uid).toBe('backbeat');
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    const unknown = [...referenced(rules), ...referenced(exprs)].filter((n) => !exported.has(n));
    expect(unknown).toEqual([]);
    expect(referenced(exprs).size).toBeGreaterThanOrEqual(12);
  });

  it('deploy - compose: the services, loopback-only ports, files that exist', () => {
    const compose = readFileSync(join(deploy, 'docker-compose.yml'), 'utf8');
    const services = [...compose.matchAll(/^ {2}([a-z0-9-]+):\s*$/gm)].map((m) => m[1]);
    expect(services).toEqual(expect.arrayContaining(['nats', 'pulse-1', 'pulse-2', 'reverb', 'prometheus', 'grafana']));
    const ports = [...compose.matchAll(/^\s+- "([^"]+:\d+)"\s*$/gm)].map((m) => m[1]!).filter((p) => /:\d+:\d+$/.test(p));
    expect(ports.length).toBeGreaterThanOrEqual(6);
    for (const p of ports) expect(p).toMatch(/^127\.0\.0\.1:/);
    for (const [, src] of compose.matchAll(/^\s+- \.\/([^:]+):/gm)) expect(existsSync(join(deploy, src!)), src).toBe(true);
    expect(compose).toMatch(/-js/);
    expect(existsSync(join(deploy, 'Dockerfile'))).toBe(true);
    expect(readFileSync(join(deploy, 'Dockerfile'), 'utf8')).toMatch(/USER node/);
  });
});
