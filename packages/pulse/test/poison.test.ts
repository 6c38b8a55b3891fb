import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { encodeJson, openStateBucket, STATE_KEYS } from '@backbeat/transport';
import { buildAdminApp, Pulse } from '@backbeat/pulse';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { collectFrames, gridProblems } from './helpers.js';

const nats = useNatsFixture();
const bus = () => nats.connect();

function recordingLogger() {
  const lines: Array<{ level: string; msg: string; key?: unknown }> = [];
  const log =
    (level: string) =>
    (o: object, msg = '') =>
      void lines.push({ level, msg, key: (o as { key?: unknown }).key });
  const logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return { logger, lines };
}

describe('pulse - bad KV values cannot crash anything', () => {
  it(
    'poison - garbage and a rule-breaking tempo map written while two pulses ' +
      'run: refused, logged once, counted; the beat goes on',
    async () => {
      const cluster = 'poison';
      // 300 BPM: the tempo is not the point, and the frames awaited come 2.5 times as often as at 120.
      const seen = collectFrames(await bus(), cluster);
      const logs = [recordingLogger(), recordingLogger()];
      const nodes: Pulse[] = [];
      for (const [i, id] of ['a', 'b'].entries()) {
        const p = new Pulse({
          bus: await bus(),
          clusterId: cluster,
          nodeId: id,
          bpm: 300,
          maxBpm: 300,
          leaseTtlMs: 1000,
          logger: logs[i]!.logger,
        });
        nats.track(p);
        await p.start();
        nodes.push(p);
      }
      await waitFor(() => seen.frames.length >= 6 && nodes.every((p) => p.tempoMap), {
        timeoutMs: 5000,
        message: 'the grid to run',
      });
      const good = nodes[0]!.tempoMap!;
      const state = await openStateBucket(await bus(), cluster);
      await state.put(STATE_KEYS.tempoMap, new TextEncoder().encode('{"segments": [ oops'));
      await state.put(STATE_KEYS.tempoMap, encodeJson({ ...good, segments: [{ ...good.segments[0], tempoBpm: -5 }] }));
      for (const bad of [{ tempo_bpm: 'fast' }, { tempo_bpm: -1 }, []])
        await state.put(STATE_KEYS.tempoPending, encodeJson(bad));
      const poisonedAt = performance.timeOrigin + performance.now();
      await waitFor(() => seen.frames.filter((f) => f.at > poisonedAt).length >= 9, {
        timeoutMs: 5000,
        message: 'frames after the poison',
      });
      for (const p of nodes) {
        expect(p.state).toBe('running');
        expect(p.tempoMap).toEqual(good); // the last good value stays in force
        const metrics = await p.metrics.registry.metrics();
        // A watcher may skip a value overwritten before it was delivered (history 1): at least one each.
        expect(metrics).toMatch(/backbeat_kv_values_refused_total\{key="tempo-map"\} [12]/);
        expect(metrics).toMatch(/backbeat_kv_values_refused_total\{key="tempo-pending"\} [123]/);
        expect(metrics).toMatch(/backbeat_tempo_bpm 300/);
      }
      for (const { lines } of logs) {
        // One line per key until a good value comes back, however many bad ones arrive (the
        // leader's restore of the map may come between the two bad maps: then a second line).
        const refused = lines.filter((l) => l.msg.startsWith('refused a bad KV value'));
        expect(refused.filter((l) => l.key === 'tempo-pending')).toHaveLength(1);
        expect(refused.filter((l) => l.key === 'tempo-map').length).toBeGreaterThanOrEqual(1);
        expect(refused.filter((l) => l.key === 'tempo-map').length).toBeLessThanOrEqual(2);
      }
      expect(gridProblems(seen.frames)).toEqual([]);
      // The leader repairs both keys: the bad pending change is cleared, the good map restored.
      await waitFor(async () => (await state.get(STATE_KEYS.tempoPending)) === null, {
        message: 'the bad pending change to be cleared',
      });
      await waitFor(
        async () =>
          JSON.stringify(JSON.parse(new TextDecoder().decode((await state.get(STATE_KEYS.tempoMap))!.value))) ===
          JSON.stringify(good),
        { message: 'the good map restored' },
      );
      await expect(nodes[1]!.requestTempoChange({ tempo_bpm: 280 })).resolves.toMatchObject({ tempo_bpm: 280 });
      const app = buildAdminApp(nodes[0]!);
      expect((await app.inject({ url: '/tempo' })).json()).toMatchObject({ current_bpm: 300 });
      await app.close();
      seen.stop();
    },
  );
});
