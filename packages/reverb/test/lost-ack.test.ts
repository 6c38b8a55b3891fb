/**
 * A report store whose answer is lost (docs/spec.md §9 Reverb): in a partition the report
 * stream stores the copy but its acknowledgement never reaches the replica. The replica's
 * retry finds its own copy stored; that copy is the bar's record and is broadcast once (by the
 * stream's republish, as every stored copy is). Real nats-server; the bus drops the answer of
 * one store after the server stored it.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { NatsBus, clusterNames, subjects, type Bus } from '@backbeat/transport';
import { Reverb, decodeStoredReport } from '@backbeat/reverb';
import { collectReports, startClaimer, startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();

/** The bus as given, except that the answer of the `n`th report store is lost after the server stored it. */
function losingStoreAnswer(bus: NatsBus, cluster: string, n: number): { bus: Bus; lost: number[] } {
  let stores = 0;
  const lost: number[] = [];
  const proxy = new Proxy(bus, {
    get(target, key) {
      if (key === 'publishDurable') {
        return async (subject: string, data: Uint8Array, options: Parameters<Bus['publishDurable']>[2]) => {
          const ack = await target.publishDurable(subject, data, options);
          if (subject === subjects(cluster).reportStore && ++stores === n) {
            lost.push(ack.seq);
            throw new Error(`no answer on '${subject}' within 5000 ms`);
          }
          return ack;
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { bus: proxy, lost };
}

describe('reverb - a report store whose answer is lost', () => {
  it(
    'lost ack - the copy stored without an answer is broadcast once, with the ' +
      'claims it counts; every stored report is broadcast once',
    async () => {
      const cluster = 'lostack';
      const seen = collectReports(fx.bus, cluster);
      const p = await startPulse(fx.server.url, cluster, 240, 4);
      fx.cleanup(p.stop);
      const conn = await NatsBus.connect({ servers: fx.server.url });
      const losing = losingStoreAnswer(conn, cluster, 3);
      const r = new Reverb({ bus: losing.bus, clusterId: cluster, nodeId: 'lost1', signatures: 'off', retryMs: 200 });
      await r.start();
      fx.cleanup(async () => {
        await r.stop();
        await conn.close();
      });
      const c = await startClaimer(fx, cluster, 'agent:lost');
      await waitFor(() => losing.lost.length === 1 && seen.reports.length >= 5, {
        timeoutMs: 15_000,
        message: 'a lost store answer, then more reports',
      });
      await c.stop();
      const stored = (await fx.bus.readStream({ stream: clusterNames(cluster).reportStream, limit: 1000 })).map(
        (m) => decodeStoredReport(m)!,
      );
      const m = await fx.bus.getStreamMsg(clusterNames(cluster).reportStream, { seq: losing.lost[0]! });
      const lostCopy = decodeStoredReport(m!)!;
      expect(lostCopy.type).toBe('backbeat.barreport.v1');
      // Every stored report reached the subscribers once, the one whose answer was lost included.
      for (const s of stored.filter((x) => x.from_beat <= seen.reports.at(-1)!.from_beat)) {
        expect([s.from_beat, seen.reports.filter((x) => x.window_id === s.window_id).length]).toEqual([s.from_beat, 1]);
      }
      const broadcast = seen.reports.find((x) => x.window_id === lostCopy.window_id)!;
      expect(broadcast).toEqual(lostCopy);
      expect(r.lastReport?.from_beat).toBeGreaterThan(lostCopy.from_beat);
    },
  );
});
