import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BarReport, ClaimState } from '@backbeat/contracts';
import { waitFor, type ManagedProcess } from '@backbeat/testing';
import { reportStreamConfig, subjects, type BusMsg } from '@backbeat/transport';
import { createClient, publicKeyBase64, type Client } from '@backbeat/sdk';
import { startPulse } from './helpers.js';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { startReverbProcess } from './process.js';

const CLUSTER = 'crash';
const BAR = 4;
const fx = useNatsFixture();

const STATES: ClaimState[] = ['planning', 'executing', 'reviewing', 'completed'];

describe('reverb - kill -9 mid-bar and restart', () => {
  it(
    'crash - every bar gets one report whose counts equal the acknowledged claims; ' +
      'missed bars built late; nothing dead-lettered as replayed',
    async () => {
      const pulse = await startPulse(fx.server.url, CLUSTER, 240, BAR); // 1 s bars
      fx.cleanup(pulse.stop);
      const keys = Array.from({ length: 5 }, () => generateKeyPairSync('ed25519').privateKey);
      const trust = JSON.stringify({
        agents: Object.fromEntries(keys.map((k, i) => [`agent:s${i}`, [publicKeyBase64(k)]])),
      });
      const env = { NATS_URL: fx.server.url, CLUSTER, NODE_ID: 'r1', SIGNATURES: 'require', TRUST: trust };
      const dlq: BusMsg[] = [];
      const dlqSub = fx.bus.subscribe(subjects(CLUSTER).dlq, (m) => dlq.push(m));
      let proc: ManagedProcess = (await startReverbProcess(env)).proc;
      fx.cleanup(() => proc.stop());

      // Acknowledged claims per bar: agent ids and state counts, as the agents saw them acked.
      const acked = new Map<number, { agents: Set<string>; states: Record<string, number> }>();
      const clients: Client[] = [];
      let sending = true;
      const failures: string[] = [];
      const beats: number[] = [];
      for (let i = 0; i < keys.length; i++) {
        const c = createClient({
          clusterId: CLUSTER,
          agentId: `agent:s${i}`,
          nats: fx.server.url,
          signingKey: keys[i]!,
        });
        c.onBeat((f) => {
          if (!sending) return;
          if (i === 0) beats.push(f.beat_index);
          const state = STATES[f.beat_index % BAR]!;
          c.emitStatusClaim({ state, beatIndex: f.beat_index }).then(
            () => {
              const bar = f.beat_index - (f.beat_index % BAR);
              const e = acked.get(bar) ?? { agents: new Set(), states: {} };
              e.agents.add(`agent:s${i}`);
              e.states[state] = (e.states[state] ?? 0) + 1;
              acked.set(bar, e);
            },
            (err: Error) => failures.push(`${f.beat_index} ${i}: ${err.message}`),
          );
        });
        await c.start();
        fx.cleanup(() => c.stop());
        clients.push(c);
      }
      const beat = () => clients[0]!.currentBeat;
      // A first full bar, then kill -9 in the middle of the next one.
      const begin = beat(); // every agent follows from the next beat on: the next downbeat starts a full bar
      await waitFor(() => beat() > begin && beat() % BAR === 0, { timeoutMs: 8000, message: 'a downbeat' });
      const firstFull = beat();
      await waitFor(() => beat() === firstFull + BAR + 1, { timeoutMs: 8000, message: 'mid-bar of the next bar' });
      proc.kill('SIGKILL'); // kill -9: no shutdown code runs
      expect(await proc.exited).toBe('SIGKILL');
      const killedAt = beat();
      // Down for about two bars: at least one downbeat passes while no reverb runs.
      await waitFor(() => beat() >= killedAt + 2 * BAR, { timeoutMs: 10_000, message: 'two bars without reverb' });
      proc = (await startReverbProcess(env)).proc;
      const restartedAt = beat();
      // Two more bars live, then stop the agents and wait for the last bar's report.
      await waitFor(() => beat() >= restartedAt - (restartedAt % BAR) + 2 * BAR, {
        timeoutMs: 10_000,
        message: 'two bars after the restart',
      });
      sending = false;
      const lastBar = beat() - (beat() % BAR) - BAR;
      const stream = reportStreamConfig(CLUSTER).name;
      const stored = await waitFor(
        async () => {
          const msgs = await fx.bus.readStream({ stream, limit: 1000 });
          const reports = msgs.map((m) => JSON.parse(new TextDecoder().decode(m.data)) as BarReport);
          return reports.some((r) => r.from_beat >= lastBar) ? reports : null;
        },
        { timeoutMs: 10_000, message: `the report of bar ${lastBar}` },
      );
      const byBar = new Map<number, BarReport[]>();
      for (const r of stored) byBar.set(r.from_beat, [...(byBar.get(r.from_beat) ?? []), r]);
      const lateBars: number[] = [];
      for (let bar = firstFull; bar <= lastBar; bar += BAR) {
        const reports = byBar.get(bar) ?? [];
        expect(reports, `bar ${bar}: one report`).toHaveLength(1);
        const r = reports[0]!;
        const want = acked.get(bar)!;
        expect(r.agents_reporting, `bar ${bar} agents`).toBe(want.agents.size);
        expect(r.agents_reporting).toBe(5);
        expect(r.state_counts, `bar ${bar} state counts`).toEqual(want.states);
        // Every acknowledged claim is counted. (Five agents send 20 a bar on a quiet host; a
        // client whose event loop stalls skips a stale beat and sends none for it.)
        expect(
          r.performance!.claims_processed,
          `bar ${bar} claims (first full ${firstFull}, killed at ${killedAt}, restarted at ${restartedAt}, ` +
            `last ${lastBar}; failures ${failures.join('; ')}; beats ${beats.join(',')})`,
        ).toBe(Object.values(want.states).reduce((a, b) => a + b, 0));
        expect(r.late_claims ?? 0).toBe(0);
        expect(r.issues.filter((i) => i.category === 'replayed')).toEqual([]);
        if (r.built_late) lateBars.push(bar);
      }
      // The bar in progress at the kill and the bars whose downbeat passed while down were built late.
      expect(lateBars.length).toBeGreaterThanOrEqual(1);
      expect(lateBars.every((b) => b >= firstFull + BAR && b <= restartedAt)).toBe(true);
      expect(dlq.filter((m) => m.headers['x-reason'] === 'replayed')).toEqual([]);
      expect(dlq).toEqual([]);
      dlqSub.unsubscribe();
    },
  );
});
