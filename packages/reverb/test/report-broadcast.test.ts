/**
 * The broadcast of bar reports (docs/spec.md §9 Reverb): the report stream republishes every
 * report it stores on `backbeat.C.reverb`, so each stored report reaches the subscribers once,
 * in stream order, whoever stored it and whatever became of the store's answer: a replica
 * killed (kill -9) right after its store, two replicas storing the same bars, a report stream
 * made by an earlier version (taken in place on nats-server 2.10 and newer; on 2.9, which
 * cannot, the builders broadcast as before and say so in one line). Real nats-server.
 */
import { describe, expect, it } from 'vitest';
import { waitFor, type ManagedProcess } from '@backbeat/testing';
import {
  NatsBus,
  REPUBLISH_HEADERS,
  clusterNames,
  compareServerVersions,
  reportStreamConfig,
  subjects,
  type Bus,
  type BusMsg,
} from '@backbeat/transport';
import type { Logger } from '@backbeat/core';
import { Reverb, decodeStoredReport } from '@backbeat/reverb';
import type { BarReport } from '@backbeat/contracts';
import { emptyReport, startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { startReverbProcess } from './process.js';

const fx = useNatsFixture();
const dec = new TextDecoder();

/** Every message on the cluster's broadcast subject, with its headers. */
function broadcasts(bus: Bus, cluster: string): { msgs: BusMsg[]; of(windowId: string): number } {
  const msgs: BusMsg[] = [];
  bus.subscribe(subjects(cluster).reverb, (m) => msgs.push(m));
  const report = (m: BusMsg) => JSON.parse(dec.decode(m.data)) as BarReport;
  return { msgs, of: (windowId) => msgs.filter((m) => report(m).window_id === windowId).length };
}

/** The reports stored in the cluster's report stream, oldest first, with their sequences. */
async function stored(cluster: string): Promise<Array<{ seq: number; report: BarReport; by?: string }>> {
  const msgs = await fx.bus.readStream({ stream: clusterNames(cluster).reportStream, limit: 1000 });
  return msgs.map((m) => ({ seq: m.seq, report: decodeStoredReport(m)!, by: m.headers['Backbeat-Report-Node'] }));
}

/** Reverb in this process on a connection of its own, stopped after the file. */
async function inProcess(cluster: string, nodeId: string, logger?: Logger): Promise<Reverb> {
  const conn = await NatsBus.connect({ servers: fx.server.url });
  const r = new Reverb({
    bus: conn,
    clusterId: cluster,
    nodeId,
    signatures: 'off',
    retryMs: 100,
    ...(logger ? { logger } : {}),
  });
  fx.cleanup(async () => {
    await r.stop();
    await conn.close();
  });
  await r.start();
  return r;
}

describe('reverb - every stored report is broadcast once, by the server', () => {
  it(
    'broadcast - a replica killed (kill -9) right after its report store, before any answer: that report is ' +
      'still broadcast once; after its restart every bar has one report, each broadcast once',
    async () => {
      const cluster = 'killstore';
      const seen = broadcasts(fx.bus, cluster);
      await fx.bus.flush();
      const p = await startPulse(fx.server.url, cluster, 240, 4); // 1 s bars
      fx.cleanup(p.stop);
      const env = { NATS_URL: fx.server.url, CLUSTER: cluster, NODE_ID: 'k1' };
      let proc: ManagedProcess = (await startReverbProcess({ ...env, KILL_AFTER_REPORT_STORE: '3' })).proc;
      fx.cleanup(() => proc.stop());
      expect(await proc.exited).toBe('SIGKILL');
      const atDeath = await stored(cluster);
      expect(atDeath).toHaveLength(3);
      const last = atDeath[2]!;
      expect(last.by).toBe('k1'); // its copy, stored without an answer
      await waitFor(() => seen.of(last.report.window_id) === 1, {
        message: 'the last report before the kill, broadcast',
      });
      // The same replica again: it finds its reports stored and goes on from the next bar.
      proc = (await startReverbProcess(env)).proc;
      await waitFor(async () => (await stored(cluster)).length >= 7, {
        timeoutMs: 15_000,
        message: 'four more reports',
      });
      await proc.stop();
      const all = await stored(cluster);
      const beats = all.map((x) => x.report.from_beat);
      expect(beats).toEqual(beats.map((_, i) => beats[0]! + i * 4)); // every bar, once, in order
      await waitFor(() => seen.msgs.length >= all.length, { message: 'every stored report on the broadcast subject' });
      await fx.bus.flush();
      expect(all.map((x) => [x.report.from_beat, seen.of(x.report.window_id)])).toEqual(
        all.map((x) => [x.report.from_beat, 1]),
      );
      // In stream order, each naming its stored copy.
      const h = REPUBLISH_HEADERS;
      expect(seen.msgs.map((m) => Number(m.headers[h.sequence]))).toEqual(all.map((x) => x.seq));
      expect(seen.msgs.map((m) => m.headers[h.stream])).toEqual(all.map(() => clusterNames(cluster).reportStream));
    },
  );

  it(
    'broadcast - two replicas storing the same bars: one stored ' + 'report and one broadcast per bar, in stream order',
    async () => {
      const cluster = 'tworeplicas';
      const seen = broadcasts(fx.bus, cluster);
      await fx.bus.flush();
      const p = await startPulse(fx.server.url, cluster, 240, 4);
      fx.cleanup(p.stop);
      const a = await inProcess(cluster, 'ra');
      const b = await inProcess(cluster, 'rb');
      await waitFor(() => seen.msgs.length >= 6, { timeoutMs: 15_000, message: 'six broadcasts' });
      await a.stop();
      await b.stop();
      const all = await stored(cluster);
      const beats = all.map((x) => x.report.from_beat);
      expect(beats).toEqual(beats.map((_, i) => beats[0]! + i * 4));
      await waitFor(() => seen.msgs.length >= all.length, { message: 'every stored report on the broadcast subject' });
      await fx.bus.flush();
      expect(all.map((x) => seen.of(x.report.window_id))).toEqual(all.map(() => 1));
      expect(seen.msgs.map((m) => dec.decode(m.data))).toEqual(all.map((x) => JSON.stringify(x.report)));
    },
  );

  it(
    'broadcast - a report stream made without the republish (an earlier version) takes it in place ' +
      'on nats-server 2.10+, and on 2.9 the builders broadcast, said in one line',
    async () => {
      const cluster = 'oldstream';
      const name = clusterNames(cluster).reportStream;
      const { republish: _new, ...older } = reportStreamConfig(cluster);
      await fx.bus.ensureStream(older);
      const before = emptyReport(cluster, 0);
      await fx.bus.publishDurable(subjects(cluster).reportStore, new TextEncoder().encode(JSON.stringify(before)), {
        msgId: before.window_id,
      });
      const seen = broadcasts(fx.bus, cluster);
      await fx.bus.flush();
      const p = await startPulse(fx.server.url, cluster, 240, 4);
      fx.cleanup(p.stop);
      const warned: string[] = [];
      const log: Logger = {
        debug: () => {},
        info: () => {},
        error: () => {},
        warn: (o, m) => void warned.push(`${(o as { code?: string }).code ?? ''} ${m ?? ''}`),
        child: () => log,
      };
      const r = await inProcess(cluster, 'old1', log);
      await waitFor(async () => (await stored(cluster)).length >= 4, {
        timeoutMs: 15_000,
        message: 'three new reports',
      });
      await r.stop();
      const all = await stored(cluster);
      await waitFor(() => seen.msgs.length >= all.length - 1, { message: 'every new report on the broadcast subject' });
      await fx.bus.flush();
      const config = (await (await fx.bus.jsm()).streams.info(name)).config;
      const fresh = all.slice(1);
      expect(fresh.map((x) => seen.of(x.report.window_id))).toEqual(fresh.map(() => 1));
      expect(seen.of(before.window_id)).toBe(0); // stored before: not broadcast again
      const republished = seen.msgs.map((m) => m.headers[REPUBLISH_HEADERS.stream]);
      if (compareServerVersions(fx.bus.serverVersion!, '2.10.0') >= 0) {
        expect(config.republish).toMatchObject({ src: subjects(cluster).reportStore, dest: subjects(cluster).reverb });
        expect(republished).toEqual(fresh.map(() => name));
        expect(warned.filter((l) => l.startsWith('BB_ERR_REPUBLISH'))).toEqual([]);
      } else {
        expect(config.republish).toBeUndefined();
        expect(republished).toEqual(fresh.map(() => undefined)); // published by reverb itself
        expect(warned.filter((l) => l.startsWith('BB_ERR_REPUBLISH'))).toEqual([
          expect.stringMatching(
            /cannot add it to an existing stream: upgrade to nats-server 2\.10 .*each replica broadcasts/,
          ),
        ]);
      }
    },
  );
});
