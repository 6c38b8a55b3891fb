import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { NatsBus, statusStreamConfig, type Bus, type DurableMsg } from '@backbeat/transport';
import { Reverb } from '@backbeat/reverb';
import type { BarReport } from '@backbeat/contracts';
import { collectReports, startClaimer, startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();
/**
 * The bus as given, except that while `held` is true every durable delivery is held back and
 * handed over when it is released: a consumer stalled as by a NATS fault (its Raft group
 * electing a leader), while the stream itself stays readable. While `short` is true, reads of
 * the stream answer nothing: a replica behind its stream after a heal answering them.
 */
function stallableConsumer(bus: NatsBus): { bus: Bus; hold(): void; release(): void; short: boolean } {
  let held = false;
  const queue: Array<() => void> = [];
  const state = { short: false };
  const proxy = new Proxy(bus, {
    get(target, key) {
      if (key === 'consume') {
        return (options: Parameters<Bus['consume']>[0], handler: (m: DurableMsg) => void | Promise<void>) =>
          target.consume(options, (m) => {
            if (!held) return handler(m);
            queue.push(() => void handler(m));
          });
      }
      if (key === 'readStream') {
        return (options: Parameters<Bus['readStream']>[0]) =>
          state.short ? Promise.resolve([]) : target.readStream(options);
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return Object.assign(state, {
    bus: proxy,
    hold: () => void (held = true),
    release: () => {
      held = false;
      for (const deliver of queue.splice(0)) deliver();
    },
  });
}

/**
 * A pulse at 240 BPM (1 s bars), a reverb on a stallable bus and three agents that claim on
 * beats 0 to 2 of each bar (a claim of the bar's last beat is sent 250 ms before the report,
 * and a loaded machine can store it after the report: a late claim, rightly, and not what these
 * tests are about); resolves once a full bar (3 agents, 9 claims) is reported.
 */
async function stallableFleet(cluster: string, nodeId: string, agents: string[], options: { retryMs?: number } = {}) {
  const seen = collectReports(fx.bus, cluster);
  const p = await startPulse(fx.server.url, cluster, 240, 4);
  fx.cleanup(p.stop);
  const conn = await NatsBus.connect({ servers: fx.server.url });
  const stall = stallableConsumer(conn);
  const r = new Reverb({
    bus: stall.bus,
    clusterId: cluster,
    nodeId,
    signatures: 'off',
    catchUpWaitMs: 100,
    ...options,
  });
  await r.start();
  fx.cleanup(async () => {
    await r.stop();
    await conn.close();
  });
  for (const id of agents) {
    await startClaimer(fx, cluster, id);
  }
  await waitFor(() => seen.reports.some((x) => x.agents_reporting === 3 && x.performance?.claims_processed === 9), {
    timeoutMs: 8000,
    message: 'a full bar',
  });
  return { seen, stall, r };
}

describe('reverb - a stalled claim consumer', () => {
  it(
    'catch-up - reports built while the consumer is stalled count every ' +
      'stored claim; the late deliveries count nowhere twice',
    async () => {
      const cluster = 'stall';
      const { seen, stall, r } = await stallableFleet(cluster, 'rs', ['agent:s1', 'agent:s2', 'agent:s3']);
      stall.hold();
      const stalledFrom = seen.reports.at(-1)!.from_beat + 4;
      // Two whole bars end while nothing is delivered to the consumer.
      await waitFor(() => seen.reports.some((x) => x.from_beat === stalledFrom + 4), {
        timeoutMs: 6000,
        message: 'two bars reported during the stall',
      });
      stall.release();
      const after = stalledFrom + 12;
      await waitFor(() => seen.reports.some((x) => x.from_beat === after), {
        timeoutMs: 6000,
        message: 'a bar after the stall',
      });

      // What the stream acknowledged, by bar.
      const stored = await fx.bus.readStream({ stream: statusStreamConfig(cluster).name, limit: 10_000 });
      const perBar = new Map<number, number>();
      for (const m of stored) {
        const beat = (JSON.parse(new TextDecoder().decode(m.data)) as { beat_index: number }).beat_index;
        perBar.set(beat - (beat % 4), (perBar.get(beat - (beat % 4)) ?? 0) + 1);
      }
      const byBar = new Map<number, BarReport>(seen.reports.map((x) => [x.from_beat, x]));
      for (const from of [stalledFrom, stalledFrom + 4, stalledFrom + 8, after]) {
        const rep = byBar.get(from)!;
        expect(rep, `report of bar ${from}`).toBeDefined();
        expect(rep.agents_reporting).toBe(3);
        expect(rep.performance!.claims_processed).toBe(9);
        expect(perBar.get(from)).toBe(9);
        // The held deliveries, handed over after the stall, are neither replays nor late claims.
        expect(rep.issues.map((i) => i.category)).not.toContain('replayed');
        expect(rep.late_claims).toBeUndefined();
      }
      const catchUps = (await r.metrics.registry.getSingleMetric('backbeat_reverb_catch_up_reads_total')!.get())
        .values[0]!.value;
      expect(catchUps).toBeGreaterThanOrEqual(2);
      seen.stop();
    },
  );
  it(
    'catch-up - a direct read the stream answers with nothing is not taken as all ' +
      'there is: the reports wait, then count every stored claim',
    async () => {
      const { seen, stall, r } = await stallableFleet('short', 'rshort', ['agent:t1', 'agent:t2', 'agent:t3'], {
        retryMs: 100,
      });
      stall.hold();
      stall.short = true;
      const stalledFrom = seen.reports.at(-1)!.from_beat + 4;
      // Two bars end while the consumer delivers nothing and every read of the stream answers nothing.
      await waitFor(() => r.currentBeat >= stalledFrom + 9, {
        timeoutMs: 6000,
        intervalMs: 20,
        message: 'two bars ended',
      });
      expect(
        seen.reports.some((x) => x.from_beat >= stalledFrom),
        'no report built from a read that answered nothing',
      ).toBe(false);
      stall.short = false;
      const after = stalledFrom + 8;
      await waitFor(() => seen.reports.some((x) => x.from_beat === after), {
        timeoutMs: 6000,
        message: 'the stalled bars reported',
      });
      stall.release();
      await waitFor(() => seen.reports.some((x) => x.from_beat === after + 4), {
        timeoutMs: 6000,
        message: 'a bar after the release',
      });
      const byBar = new Map<number, BarReport>(seen.reports.map((x) => [x.from_beat, x]));
      for (const from of [stalledFrom, stalledFrom + 4]) {
        const rep = byBar.get(from)!;
        expect(rep.performance!.claims_processed, `claims of bar ${from}`).toBe(9);
        expect(rep.late_claims).toBeUndefined();
      }
      seen.stop();
    },
  );
});
