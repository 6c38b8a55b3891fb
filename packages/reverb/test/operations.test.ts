import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { windowId } from '@backbeat/core';
import type { BarReport } from '@backbeat/contracts';
import { waitFor } from '@backbeat/testing';
import { readPresence, reportStreamConfig, statusStreamConfig, subjects, type Bus } from '@backbeat/transport';
import { publicKeyBase64 } from '@backbeat/sdk';
import {
  Reverb,
  TrustStore,
  buildReverbApp,
  listReverbConsumers,
  pruneReverbConsumers,
  readReports,
} from '@backbeat/reverb';
import { emptyReport, startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { refusedReverbProcess } from './process.js';

const fx = useNatsFixture();
const enc = new TextEncoder();
async function startReverb(
  cluster: string,
  nodeId: string,
  extra: Partial<ConstructorParameters<typeof Reverb>[0]> = {},
  on: Bus = fx.bus,
): Promise<Reverb> {
  const r = new Reverb({ bus: on, clusterId: cluster, nodeId, signatures: 'off', ...extra });
  await r.start();
  fx.cleanup(() => r.stop());
  return r;
}

// Every test has a cluster of its own (subjects, streams, consumers) and most wait on bars:
// all of them run side by side.
describe.concurrent('reverb - admin auth on the HTTP API', () => {
  it('auth - a state-changing route is 401 without the token and 2xx with it; GET needs none', async () => {
    // In this process, on a real HTTP port (a reverb process costs about 1 s of CPU to start;
    // the refusal below is what needs one).
    const r = await startReverb('auth', 'a1');
    const app = buildReverbApp(r, { adminToken: 's3cret' });
    app.post('/api/v1/tempo', async () => ({ accepted: true })); // stands in for the dashboard's tempo proxy
    fx.cleanup(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const http = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const post = (headers: Record<string, string>) =>
      fetch(`${http}/api/v1/tempo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"bpm":66}',
      });
    const denied = await post({});
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: 'BB_ERR_UNAUTHORIZED' });
    expect((await post({ authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await post({ authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect((await fetch(`${http}/api/v1/status`)).status).toBe(200);
    await app.close();
  });

  it('auth - without a token reverb refuses a non-loopback address with one clear line and exit 1', async () => {
    const r = await refusedReverbProcess({
      NATS_URL: fx.server.url,
      CLUSTER: 'auth2',
      HTTP_HOST: '0.0.0.0',
      ADMIN_TOKEN: '',
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/'0\.0\.0\.0' is not a loopback address: without --admin-token/),
    ]);
  });
});

describe.concurrent('reverb - report history from the stream', () => {
  it(
    'history - from_beat finds its report by sequence lookup, pages ' +
      'follow the cursor, no from_beat gives the newest',
    async () => {
      const cluster = 'hist';
      await fx.bus.ensureStream(reportStreamConfig(cluster));
      for (let i = 0; i < 300; i++)
        await fx.bus.publishDurable(
          subjects(cluster).reportStore,
          enc.encode(JSON.stringify(emptyReport(cluster, i * 4))),
          { msgId: windowId(cluster, i * 4) },
        );
      const first = await readReports(fx.bus, cluster, { fromBeat: 801, limit: 5 });
      expect(first.reports.map((r) => r.from_beat)).toEqual([804, 808, 812, 816, 820]);
      const second = await readReports(fx.bus, cluster, { cursor: first.nextCursor, limit: 5 });
      expect(second.reports.map((r) => r.from_beat)).toEqual([824, 828, 832, 836, 840]);
      const end = await readReports(fx.bus, cluster, { fromBeat: 1188, limit: 5 });
      expect(end.reports.map((r) => r.from_beat)).toEqual([1188, 1192, 1196]);
      expect(end.nextCursor).toBeUndefined();
      expect((await readReports(fx.bus, cluster, { fromBeat: 5000, limit: 5 })).reports).toEqual([]);
      expect((await readReports(fx.bus, cluster, { limit: 3 })).reports.map((r) => r.from_beat)).toEqual([
        1188, 1192, 1196,
      ]);
      // Over HTTP, with the cursor.
      const r = await startReverb(cluster, 'h1');
      const app = buildReverbApp(r);
      const page = (await app.inject({ url: '/api/v1/reports?from_beat=0&limit=2' })).json();
      expect(page.reports.map((x: BarReport) => x.from_beat)).toEqual([0, 4]);
      const next = (await app.inject({ url: `/api/v1/reports?cursor=${page.next_cursor}&limit=2` })).json();
      expect(next.reports.map((x: BarReport) => x.from_beat)).toEqual([8, 12]);
      expect((await app.inject({ url: '/api/v1/reports?cursor=x' })).statusCode).toBe(400);
      await app.close();
    },
  );
});

describe.concurrent('reverb - identity, consumers and new replicas', () => {
  it(
    'consumers - list marks the durable of a stopped replica orphaned, ' +
      'prune deletes only it; presence names the consumer',
    async () => {
      const cluster = 'orphans';
      const p = await startPulse(fx.server.url, cluster, 240, 4);
      fx.cleanup(p.stop);
      const live = await startReverb(cluster, 'live');
      const gone = await startReverb(cluster, 'gone');
      await gone.stop();
      // the pulse announces itself too
      const presence = (await readPresence(fx.bus, cluster)).filter((x) => x.kind === 'reverb');
      expect(presence.map((x) => [x.kind, x.node_id, x.info.consumer])).toEqual([['reverb', 'live', 'reverb_live']]);
      const list = await listReverbConsumers(fx.bus, cluster);
      expect(list.map((c) => [c.name, c.orphaned])).toEqual([
        ['reverb_gone', true],
        ['reverb_live', false],
      ]);
      expect(await pruneReverbConsumers(fx.bus, cluster)).toEqual(['reverb_gone']);
      expect((await listReverbConsumers(fx.bus, cluster)).map((c) => c.name)).toEqual(['reverb_live']);
      expect(live.state).toBe('running');
    },
  );

  it('replica - a new replica starts from the current window, not the start of the stream', async () => {
    const cluster = 'fresh';
    const p = await startPulse(fx.server.url, cluster, 240, 4); // 1 s bars
    fx.cleanup(p.stop);
    await fx.bus.ensureStream(statusStreamConfig(cluster));
    const claim = (beat: number, n: number) =>
      enc.encode(
        JSON.stringify({
          type: 'backbeat.statusclaim.v1',
          agent_id: `agent:o${n}`,
          beat_index: beat,
          state: 'executing',
          hlc: `18bcfe56800:${n.toString(16).padStart(4, '0')}:abcd`,
        }),
      );
    for (let n = 0; n < 20; n++) await fx.bus.publishDurable(subjects(cluster).status, claim(0, n));
    const first = await startReverb(cluster, 'probe');
    await waitFor(() => first.currentBeat >= 12, { timeoutMs: 8000, message: 'three bars later' });
    await first.stop();
    const r = await startReverb(cluster, 'newcomer');
    await waitFor(
      async () =>
        (await fx.bus.listConsumers(statusStreamConfig(cluster).name)).some(
          (c) => c.name === 'reverb_newcomer' && c.pending === 0 && c.ackPending === 0,
        ),
      { message: 'the consumer caught up' },
    );
    const windows = r.windows();
    expect(windows.every((w) => w.fromBeat >= 8)).toBe(true); // nothing of bar 0
    expect(windows.reduce((a, w) => a + w.claims + w.rejected + w.lateClaims, 0)).toBe(0);
    // none of the 20 old claims
    expect(await r.metrics.registry.getSingleMetricAsString('backbeat_reverb_claims_total')).not.toMatch(/outcome=/);
  });
});

describe.concurrent('reverb - stores that fail, signatures after a reload, the HLC', () => {
  it('retry - a report whose store fails is retried until stored, in bar order, never sealed unsent', async () => {
    const cluster = 'retry';
    const p = await startPulse(fx.server.url, cluster, 240, 4);
    fx.cleanup(p.stop);
    let failures = 0;
    let failing = true;
    const flaky: Bus = new Proxy(fx.bus, {
      get(target, prop, receiver) {
        if (prop === 'publishDurable') {
          return async (
            subject: string,
            ...rest: Parameters<Bus['publishDurable']> extends [string, ...infer R] ? R : never
          ) => {
            if (subject === subjects(cluster).reportStore && failing) {
              failures++;
              throw new Error('store unavailable (test)');
            }
            return target.publishDurable(subject, ...rest);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const r = await startReverb(cluster, 'flaky', { retryMs: 50 }, flaky);
    await waitFor(() => failures >= 5 && r.currentBeat >= 8, {
      timeoutMs: 8000,
      message: 'failed stores over two bars',
    });
    expect(r.lastReport).toBeUndefined();
    expect(r.windows().every((w) => w.reportedAt === undefined)).toBe(true);
    failing = false;
    const stored = await waitFor(
      async () => {
        const m = await fx.bus.readStream({ stream: reportStreamConfig(cluster).name, limit: 100 });
        return m.length >= 2 ? m.map((x) => JSON.parse(new TextDecoder().decode(x.data)) as BarReport) : null;
      },
      { timeoutMs: 5000, message: 'reports stored after the failures' },
    );
    const beats = stored.map((x) => x.from_beat);
    expect(beats).toEqual(beats.map((_, i) => beats[0]! + 4 * i)); // in order, none skipped
    expect(stored[0]!.built_late, JSON.stringify(stored[0])).toBe(true);
    expect(await r.metrics.registry.getSingleMetricAsString('backbeat_reverb_report_store_failures_total')).toMatch(
      new RegExp(`total ${failures}$`),
    );
  });

  it(
    'rotation - after a trust reload, claims signed with the now retired key are refused and ' +
      'the bar says secret_rotations_ok false; the HLC follows the claims',
    async () => {
      const cluster = 'rotation';
      const p = await startPulse(fx.server.url, cluster, 240, 4);
      fx.cleanup(p.stop);
      const k1 = generateKeyPairSync('ed25519').privateKey;
      const k2 = generateKeyPairSync('ed25519').privateKey;
      const r = await startReverb(cluster, 'rot', {
        signatures: 'require',
        trust: TrustStore.parse(JSON.stringify({ agents: { 'agent:k': [publicKeyBase64(k1)] } })),
      });
      await waitFor(() => r.currentBeat >= 0, { timeoutMs: 3000 });
      let n = 0;
      const send = (k: typeof k1, physical = Date.now()) => {
        const data = enc.encode(
          JSON.stringify({
            type: 'backbeat.statusclaim.v1',
            agent_id: 'agent:k',
            beat_index: r.currentBeat,
            state: 'executing',
            hlc: `${physical.toString(16)}:${(n++).toString(16).padStart(4, '0')}:abcd`,
          }),
        );
        return r.ingest(
          data,
          { 'x-agent-id': 'agent:k', 'x-signature': sign(null, data, k).toString('base64') },
          Date.now(),
        );
      };
      const ahead = Date.now() + 2000; // ahead, within the 5 s bound: adopted (docs/spec.md §6 Hybrid logical clock)
      expect(send(k1, ahead)).toBe('accepted');
      expect(r.hlc.peek().physical).toBeGreaterThanOrEqual(ahead);
      r.setTrust(
        TrustStore.parse(
          JSON.stringify({
            agents: { 'agent:k': [publicKeyBase64(k2)] },
            retired: { 'agent:k': [publicKeyBase64(k1)] },
          }),
        ),
      );
      const bar = r.currentBeat - (r.currentBeat % 4);
      expect(send(k1)).toBe('retired_key');
      expect(send(k2)).toBe('accepted');
      const rep = await waitFor(() => (r.lastReport && r.lastReport.from_beat >= bar ? r.lastReport : null), {
        timeoutMs: 4000,
      });
      const inBar = rep.from_beat === bar ? rep : null;
      if (inBar) {
        expect(inBar.secret_rotations_ok).toBe(false);
        expect(inBar.issues).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ category: 'retired_key', count: 1, severity: 'critical' }),
          ]),
        );
      } else {
        // The refusal fell into the next bar (stored at a bar boundary): that one says so.
        const next = await waitFor(() => (r.lastReport && r.lastReport.from_beat >= bar + 4 ? r.lastReport : null), {
          timeoutMs: 4000,
        });
        expect(next.secret_rotations_ok).toBe(false);
      }
    },
  );
});
