import { describe, expect, it } from 'vitest';
import { validateBarReport } from '@backbeat/contracts';
import { waitFor } from '@backbeat/testing';
import { NatsBus, reportStreamConfig } from '@backbeat/transport';
import { createClient, type Client } from '@backbeat/sdk';
import { Reverb, buildReverbApp } from '@backbeat/reverb';
import { collectReports, startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();

async function reverb(
  cluster: string,
  nodeId: string,
  extra: Partial<ConstructorParameters<typeof Reverb>[0]> = {},
): Promise<{ r: Reverb; bus: NatsBus; stop(): Promise<void> }> {
  const bus = await NatsBus.connect({ servers: fx.server.url });
  const r = new Reverb({ bus, clusterId: cluster, nodeId, signatures: 'off', ...extra });
  await r.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await r.stop();
    await bus.close();
  };
  fx.cleanup(stop);
  return { r, bus, stop };
}

/** Agents with a fixed script: state by beat position in a bar of 4. */
async function agents(
  cluster: string,
  scripts: Record<
    string,
    Array<'planning' | 'executing' | 'reviewing' | 'completed' | 'failed' | 'blocked' | 'helping'>
  >,
): Promise<Client[]> {
  const out: Client[] = [];
  for (const [id, script] of Object.entries(scripts)) {
    const c = createClient({ clusterId: cluster, agentId: id, nats: fx.server.url });
    c.onBeat((f) => {
      void c.emitStatusClaim({ state: script[f.beat_index % 4]!, beatIndex: f.beat_index }).catch(() => {});
    });
    await c.start();
    fx.cleanup(() => c.stop());
    out.push(c);
  }
  return out;
}

// The three tests use clusters of their own (own subjects, streams and consumers) and wait on
// bars, not the CPU: side by side they take as long as the slowest.
describe.concurrent('reverb - bar reports on nats-server', () => {
  it('reverb - reports match the claims over several bars; an empty bar is reported too', async () => {
    const cluster = 'kpis';
    const seen = collectReports(fx.bus, cluster);
    const p = await startPulse(fx.server.url, cluster);
    fx.cleanup(p.stop);
    await reverb(cluster, 'r1');
    await waitFor(() => seen.reports.length >= 1, { timeoutMs: 6000, message: 'a first (empty) report' });
    expect(seen.reports[0]).toMatchObject({
      agents_reporting: 0,
      issues: [expect.objectContaining({ category: 'silence', severity: 'warning' })],
    });
    await agents(cluster, {
      'agent:w1': ['planning', 'executing', 'reviewing', 'completed'],
      'agent:w2': ['planning', 'helping', 'executing', 'completed'],
      'agent:w3': ['planning', 'executing', 'blocked', 'failed'],
    });
    const full = await waitFor(
      () => {
        const r = seen.reports.filter((x) => x.agents_reporting === 3 && x.performance?.claims_processed === 12);
        return r.length >= 2 ? r : null;
      },
      { timeoutMs: 10_000, message: 'two full bars' },
    );
    for (const r of full) {
      expect(validateBarReport(r)).toMatchObject({ valid: true });
      expect(r.to_beat - r.from_beat).toBe(3);
      expect(r.state_counts).toEqual({
        planning: 3,
        executing: 3,
        reviewing: 1,
        completed: 2,
        failed: 1,
        blocked: 1,
        helping: 1,
      });
      expect(r.on_time_reviews).toBe(2); // w1 reviewing + completed, w2 completed; w3 never
      expect(r.help_promises_fulfilled).toBe(1);
      expect(r.issues).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ category: 'failed_agents', count: 1, severity: 'error' }),
          expect.objectContaining({ category: 'blocked_agents', count: 1 }),
        ]),
      );
      // Receipt jitter of two downbeats (a few ms; more on a loaded machine). Pairing the wrong
      // downbeats, or a frame's own time with another's, would show a whole beat (250 ms) or more.
      expect(Math.abs(r.tempo_drift_ms)).toBeLessThan(250 / 2);
      expect(r.performance!.rollup_ms).toBeLessThan(1000 / 4);
    }
    const beats = seen.reports.map((r) => r.from_beat);
    expect(beats).toEqual(beats.map((_, i) => beats[0]! + i * 4)); // every bar, in order, once
    seen.stop();
  });

  it('reverb - two replicas publish each bar once, and history is served from the stream', async () => {
    const cluster = 'replicas';
    const seen = collectReports(fx.bus, cluster);
    const p = await startPulse(fx.server.url, cluster);
    fx.cleanup(p.stop);
    const a = await reverb(cluster, 'ra');
    await reverb(cluster, 'rb');
    await agents(cluster, { 'agent:x1': ['planning', 'executing', 'reviewing', 'completed'] });
    await waitFor(() => seen.reports.length >= 4, { timeoutMs: 8000 });
    const ids = seen.reports.map((r) => r.window_id);
    expect(new Set(ids).size).toBe(ids.length);
    const stored = await fx.bus.readStream({ stream: reportStreamConfig(cluster).name, limit: 100 });
    const storedIds = stored.map((m) => JSON.parse(new TextDecoder().decode(m.data)).window_id);
    expect(new Set(storedIds).size).toBe(storedIds.length);
    const app = buildReverbApp(a.r);
    const hist = (await app.inject({ url: `/api/v1/reports?from_beat=${seen.reports[1]!.from_beat}&limit=2` })).json();
    expect(hist.reports.map((r: { from_beat: number }) => r.from_beat)).toEqual([
      seen.reports[1]!.from_beat,
      seen.reports[2]!.from_beat,
    ]);
    await app.close();
    seen.stop();
  });

  it('reverb - killed and restarted mid-bar, the bar report still counts every agent', async () => {
    const cluster = 'restart';
    const seen = collectReports(fx.bus, cluster);
    const p = await startPulse(fx.server.url, cluster, 120, 4); // 2 s bars
    fx.cleanup(p.stop);
    const first = await reverb(cluster, 'rr');
    const clients = await agents(cluster, {
      'agent:a': ['planning', 'executing', 'reviewing', 'completed'],
      'agent:b': ['planning', 'executing', 'reviewing', 'completed'],
      'agent:c': ['planning', 'executing', 'reviewing', 'completed'],
    });
    await waitFor(() => seen.reports.some((r) => r.agents_reporting === 3), { timeoutMs: 8000, message: 'a full bar' });
    // Mid-bar: beat 2 of 4 of the next bar, all agents have reported at least once in it.
    await waitFor(() => clients[0]!.currentBeat % 4 === 2, { timeoutMs: 4000 });
    const bar = clients[0]!.currentBeat - 2;
    await first.stop();
    await reverb(cluster, 'rr');
    const report = await waitFor(() => seen.reports.find((r) => r.from_beat === bar), {
      timeoutMs: 6000,
      message: `the report of bar ${bar}`,
    });
    expect(report.agents_reporting).toBe(3);
    expect(report.performance!.claims_processed).toBe(12);
    seen.stop();
  });
});
