/**
 * Nothing acknowledged is lost however long reverb was down (docs/spec.md §9
 * Reverb, crash safety): after an outage of 1,000 bars, and after a stop before any report
 * was stored, every bar whose claims are in the stream gets one report that counts them, in
 * order, read bar by bar in bounded memory.
 */
import { describe, expect, it } from 'vitest';
import type { BarReport, ClaimState } from '@backbeat/contracts';
import { waitFor } from '@backbeat/testing';
import {
  MemoryBus,
  NatsBus,
  reportStreamConfig,
  statusStreamConfig,
  subjects,
  type Bus,
  type StoredMsg,
} from '@backbeat/transport';
import { createClient, type Client } from '@backbeat/sdk';
import { Reverb } from '@backbeat/reverb';
import { ClaimStreamReader, pageLimitFor } from '@backbeat/reverb/internal';
import { startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();
const dec = new TextDecoder();
const STATES: ClaimState[] = ['planning', 'executing', 'reviewing'];

/** Claims acknowledged per bar, as the agents saw them acknowledged: which agents, how many of each state. */
type Acked = Map<number, { agents: Set<string>; states: Record<string, number> }>;

/** Agents that claim at every beat they see while `sending`; what was acknowledged, per bar. */
async function startAgents(cluster: string, bar: number, n: number) {
  const acked: Acked = new Map();
  const failures: string[] = [];
  const clients: Client[] = [];
  const s = { sending: true };
  for (let i = 0; i < n; i++) {
    const c = createClient({ clusterId: cluster, agentId: `agent:o${i}`, nats: fx.server.url });
    c.onBeat((f) => {
      if (!s.sending) return;
      const state = STATES[(f.beat_index + i) % STATES.length]!;
      c.emitStatusClaim({ state, beatIndex: f.beat_index }).then(
        () => {
          const b = f.beat_index - (f.beat_index % bar);
          const e = acked.get(b) ?? { agents: new Set<string>(), states: {} };
          e.agents.add(`agent:o${i}`);
          e.states[state] = (e.states[state] ?? 0) + 1;
          acked.set(b, e);
        },
        (err: Error) => failures.push(`${f.beat_index} ${i}: ${err.message}`),
      );
    });
    await c.start();
    fx.cleanup(() => c.stop());
    clients.push(c);
  }
  return { acked, failures, state: s, beat: () => clients[0]!.currentBeat };
}

async function storedReports(cluster: string): Promise<BarReport[]> {
  const out: BarReport[] = [];
  for (let from = 1; ; ) {
    const page = await fx.bus.readStream({ stream: reportStreamConfig(cluster).name, fromSeq: from, limit: 1000 });
    if (page.length === 0) return out;
    out.push(...page.map((m) => JSON.parse(dec.decode(m.data)) as BarReport));
    from = page.at(-1)!.seq + 1;
  }
}

/**
 * Checks one report per bar from `first` to `last`, in stored order, each counting the acknowledged claims of its bar.
 */
function expectEveryBar(
  reports: BarReport[],
  first: number,
  last: number,
  bar: number,
  acked: Acked,
  context: string,
): void {
  const inRange = reports.filter((r) => r.from_beat >= first && r.from_beat <= last);
  expect(
    inRange.map((r) => r.from_beat),
    `${context}: one report per bar, in order`,
  ).toEqual(Array.from({ length: (last - first) / bar + 1 }, (_, i) => first + i * bar));
  for (const r of inRange) {
    const want = acked.get(r.from_beat) ?? { agents: new Set(), states: {} };
    expect(r.state_counts ?? {}, `${context}: bar ${r.from_beat}`).toEqual(want.states);
    expect(r.agents_reporting, `${context}: bar ${r.from_beat} agents`).toBe(want.agents.size);
    expect(r.late_claims ?? 0, `${context}: bar ${r.from_beat} late claims`).toBe(0);
  }
}

describe('reverb - an outage of 1,000 bars', () => {
  it('outage - 1,000 bars down (1000 BPM, bars of one beat): every bar gets one report, in ' +
    'order, counting its acknowledged claims; windows held stay bounded', async () => {
    const cluster = 'outage';
    const BAR = 1;
    const p = await startPulse(fx.server.url, cluster, 1000, BAR); // 60 ms bars
    fx.cleanup(p.stop);
    const conn = await NatsBus.connect({ servers: fx.server.url });
    fx.cleanup(() => conn.close());
    const r1 = new Reverb({ bus: conn, clusterId: cluster, nodeId: 'out', signatures: 'off' });
    await r1.start();
    const agents = await startAgents(cluster, BAR, 2);
    await waitFor(() => (r1.lastReport?.from_beat ?? -1) > 5, { timeoutMs: 10_000, message: 'a few live reports' });
    await r1.stop();
    const lastLive = r1.lastReport!.from_beat;
    // Down for 1,000 bars while the agents claim at every beat.
    await waitFor(() => agents.beat() >= lastLive + 1000, {
      timeoutMs: 90_000,
      intervalMs: 50,
      message: '1,000 bars without reverb',
    });
    const restartedAt = agents.beat();
    const r2 = new Reverb({ bus: conn, clusterId: cluster, nodeId: 'out', signatures: 'off' });
    let held = 0;
    r2.onReport(() => (held = Math.max(held, r2.windows().length)));
    fx.cleanup(() => r2.stop());
    await r2.start();
    agents.state.sending = false;
    const rebuiltUpTo = restartedAt - 2; // bars surely due at the restart: rebuilt before the consumer resumed
    await waitFor(async () => (await storedReports(cluster)).some((r) => r.from_beat >= rebuiltUpTo), {
      timeoutMs: 30_000,
      message: `the report of bar ${rebuiltUpTo}`,
    });
    const reports = await storedReports(cluster);
    expect(agents.failures).toEqual([]);
    expectEveryBar(reports, lastLive + BAR, rebuiltUpTo, BAR, agents.acked, `restarted at beat ${restartedAt}`);
    const counted = reports
      .filter((r) => r.from_beat > lastLive && r.from_beat <= rebuiltUpTo)
      .reduce((n, r) => n + r.agents_reporting, 0);
    expect(counted).toBeGreaterThan(1000); // two agents, most bars: the claims were really there
    expect(reports.filter((r) => r.from_beat > lastLive && r.from_beat <= rebuiltUpTo).every((r) => r.built_late)).toBe(
      true,
    );
    // Memory held one bar at a time: never more windows than the reported ones kept plus a few ahead.
    expect(held).toBeLessThanOrEqual(r2.options.maxWindows + 20);
  }, 150_000);

  it('outage - a reverb stopped before it stored any report: the restarted one ' +
    'reports every bar it missed, each counting its claims', async () => {
    const cluster = 'noreport';
    const BAR = 8;
    const p = await startPulse(fx.server.url, cluster, 240, BAR); // 2 s bars
    fx.cleanup(p.stop);
    const conn = await NatsBus.connect({ servers: fx.server.url });
    fx.cleanup(() => conn.close());
    const agents = await startAgents(cluster, BAR, 2);
    await waitFor(() => agents.beat() >= 0, { timeoutMs: 5000, message: 'the first beat' });
    const r1 = new Reverb({ bus: conn, clusterId: cluster, nodeId: 'nr', signatures: 'off' });
    await r1.start();
    await r1.stop();
    expect(agents.beat(), 'stopped in the first bar').toBeLessThan(BAR);
    expect(await storedReports(cluster)).toEqual([]); // stopped before any report was stored
    await waitFor(() => agents.beat() >= 3 * BAR + 2, { timeoutMs: 15_000, message: 'three bars without reverb' });
    agents.state.sending = false;
    const lastBar = agents.beat() - (agents.beat() % BAR) - BAR;
    const r2 = new Reverb({ bus: conn, clusterId: cluster, nodeId: 'nr', signatures: 'off' });
    fx.cleanup(() => r2.stop());
    await r2.start();
    await waitFor(async () => (await storedReports(cluster)).some((r) => r.from_beat >= lastBar), {
      timeoutMs: 10_000,
      message: `the report of bar ${lastBar}`,
    });
    const reports = await storedReports(cluster);
    expect(agents.failures).toEqual([]);
    expect(lastBar).toBeGreaterThanOrEqual(2 * BAR);
    expectEveryBar(reports, 0, lastBar, BAR, agents.acked, 'no report before the stop');
    for (let b = 0; b <= lastBar; b += BAR)
      expect(agents.acked.get(b)?.agents.size, `bar ${b}: both agents claimed`).toBe(2);
  }, 60_000);
});

describe('reverb - reads of the claim stream hold bounded bytes', () => {
  it(
    'read - pages are sized so the largest claims stay within the byte budget; a read ' +
      'stops before a time or after a sequence and goes on from there',
    async () => {
      const bus = new MemoryBus();
      await bus.ensureStream(statusStreamConfig('pages'));
      for (let i = 0; i < 100; i++)
        await bus.publishDurable(subjects('pages').status, new TextEncoder().encode(`m${i}`));
      const limits: number[] = [];
      const spy = new Proxy(bus, {
        get(target, key) {
          if (key === 'readStream') {
            return (o: Parameters<Bus['readStream']>[0]) => {
              limits.push(o.limit ?? 100);
              return target.readStream(o);
            };
          }
          const v = Reflect.get(target, key, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      expect(pageLimitFor(32 * 1024 * 1024)).toBe(481); // 32 MiB / (64 KiB + 4 KiB)
      // at least 16 a page
      expect(pageLimitFor(1024 * 1024) * (65_536 + 4096)).toBeLessThanOrEqual(1024 * 1024 + 16 * 69_632);
      const reader = new ClaimStreamReader(spy, statusStreamConfig('pages').name, { fromSeq: 1 }, 16);
      const got: StoredMsg[] = [];
      expect(await reader.read((m) => got.push(m), { toSeq: 40 })).toBe(true);
      expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(await reader.read((m) => got.push(m), {})).toBe(false); // to the end
      expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(limits.every((l) => l === 16)).toBe(true);
      const t = new ClaimStreamReader(spy, statusStreamConfig('pages').name, { fromSeq: 1 }, 16);
      expect(await t.read(() => {}, { beforeTime: 0 })).toBe(true); // every message is stored after time 0
      expect(t.count).toBe(0);
      await bus.close();
    },
  );
});
