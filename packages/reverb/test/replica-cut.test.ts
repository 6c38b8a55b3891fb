import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { NatsBus, clusterNames, statusStreamConfig, subjects, TimeoutError, type Bus } from '@backbeat/transport';
import { createClient } from '@backbeat/sdk';
import { Reverb } from '@backbeat/reverb';
import type { BarReport } from '@backbeat/contracts';
import { startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();

/**
 * The bus as given, except that while `cut` is true every store of a bar report times out:
 * a replica cut off from the report stream's quorum (as on the minority side of a partition),
 * while it still reads and consumes claims.
 */
function cuttableReports(bus: NatsBus, cluster: string): { bus: Bus; cut: boolean } {
  const state = { cut: false, bus: undefined as unknown as Bus };
  const reportStore = subjects(cluster).reportStore;
  state.bus = new Proxy(bus, {
    get(target, key) {
      if (key === 'publishDurable') {
        return (subject: string, ...rest: unknown[]) => {
          if (state.cut && subject === reportStore) return Promise.reject(new TimeoutError(subject, 1));
          return (target.publishDurable as (...a: unknown[]) => unknown)(subject, ...rest);
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return state;
}

describe('reverb - two replicas, reports stored by either', () => {
  it('replica cut - a claim one replica counted in its bar and the other as late ' +
    'is counted once, whichever replica stores each report', async () => {
    const cluster = 'cut';
    const p = await startPulse(fx.server.url, cluster, 240, 4); // 1 s bars
    fx.cleanup(p.stop);
    const replicas: Array<{ r: Reverb; net: { cut: boolean }; reports: BarReport[] }> = [];
    for (const id of ['ra', 'rb']) {
      const conn = await NatsBus.connect({ servers: fx.server.url });
      const net = cuttableReports(conn, cluster);
      const r = new Reverb({
        bus: net.bus,
        clusterId: cluster,
        nodeId: id,
        signatures: 'off',
        retryMs: 100,
        catchUpWaitMs: 100,
      });
      const reports: BarReport[] = [];
      r.onReport((x) => reports.push(x));
      await r.start();
      fx.cleanup(async () => {
        await r.stop();
        await conn.close();
      });
      replicas.push({ r, net, reports });
    }
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    // One agent on time every beat; another whose claims reach the stream a bar late (its host cut off).
    const onTime = createClient({ clusterId: cluster, agentId: 'agent:on-time', nats: fx.server.url });
    onTime.onBeat((f) => void onTime.emitStatusClaim({ state: 'executing', beatIndex: f.beat_index }).catch(() => {}));
    await onTime.start();
    fx.cleanup(() => onTime.stop());
    const cutOff = createClient({ clusterId: cluster, agentId: 'agent:cut-off', nats: fx.server.url });
    await cutOff.start();
    fx.cleanup(() => cutOff.stop());
    await waitFor(() => b.reports.length > 0 && a.reports.length > 0, {
      timeoutMs: 8000,
      message: 'a report on both replicas',
    });

    // A is cut from the report stream: B alone stores the next bar (N), without the late claims.
    a.net.cut = true;
    const n = b.reports.at(-1)!.from_beat + 4;
    await waitFor(() => b.reports.some((x) => x.from_beat === n), {
      timeoutMs: 4000,
      message: `B's report of bar ${n}`,
    });
    // The cut-off agent's claims of bar N are stored now, after B's report: late for B.
    for (let beat = n; beat < n + 4; beat++) await cutOff.emitStatusClaim({ state: 'executing', beatIndex: beat });
    // Now B is cut and A comes back: A rebuilds bar N with those claims (its copy is not the
    // stored one) and stores bar N + 1 first.
    b.net.cut = true;
    a.net.cut = false;
    await waitFor(() => a.reports.some((x) => x.from_beat === n + 4), {
      timeoutMs: 4000,
      message: `A's report of bar ${n + 4}`,
    });
    b.net.cut = false;
    await waitFor(() => b.reports.some((x) => x.from_beat === n + 8), {
      timeoutMs: 4000,
      message: `B's report of bar ${n + 8}`,
    });
    await onTime.stop();
    const last = n + 12;
    await waitFor(() => a.reports.some((x) => x.from_beat === last) && b.reports.some((x) => x.from_beat === last), {
      timeoutMs: 4000,
      message: `bar ${last} reported`,
    });

    // Each bar's stored report, and the claims the stream acknowledged, by the bar they name.
    const stored = await fx.bus.readStream({ stream: clusterNames(cluster).reportStream, limit: 10_000 });
    const byBar = new Map<number, BarReport[]>();
    for (const m of stored) {
      const rep = JSON.parse(new TextDecoder().decode(m.data)) as BarReport;
      byBar.set(rep.from_beat, [...(byBar.get(rep.from_beat) ?? []), rep]);
    }
    const claims = await fx.bus.readStream({ stream: statusStreamConfig(cluster).name, limit: 10_000 });
    const first = Math.min(...byBar.keys());
    const perBar = new Map<number, number>();
    for (const m of claims) {
      const beat = (JSON.parse(new TextDecoder().decode(m.data)) as { beat_index: number }).beat_index;
      perBar.set(beat - (beat % 4), (perBar.get(beat - (beat % 4)) ?? 0) + 1);
    }
    let acked = 0;
    let counted = 0;
    for (let bar = first; bar <= last; bar += 4) {
      const reps = byBar.get(bar) ?? [];
      expect(reps, `one stored report of bar ${bar}`).toHaveLength(1);
      acked += perBar.get(bar) ?? 0;
      counted += (reps[0]!.performance?.claims_processed ?? 0) + (reps[0]!.late_claims ?? 0);
    }
    // The four late claims of bar N are in the report of bar N + 1 (A's), as late: not in B's bar N.
    expect(byBar.get(n)![0]!.performance!.claims_processed).toBe(perBar.get(n)! - 4);
    expect(byBar.get(n + 4)![0]!.late_claims).toBe(4);
    expect(counted).toBe(acked);
    // Both replicas hold the stored reports as theirs (what they serve and count against).
    for (const x of [a, b]) expect(x.reports.find((r) => r.from_beat === n + 4)!.late_claims).toBe(4);
  }, 40_000);
});
