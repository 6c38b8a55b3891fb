import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { subjects } from '@backbeat/transport';
import { Reverb } from '@backbeat/reverb';
import { useNatsFixture } from '@backbeat/testing/vitest';

const fx = useNatsFixture();
const enc = new TextEncoder();
const claim = (agent: string, beat: number, n: number) =>
  enc.encode(
    JSON.stringify({
      type: 'backbeat.statusclaim.v1',
      agent_id: agent,
      beat_index: beat,
      state: 'executing',
      hlc: `18bcfe56800:${n.toString(16).padStart(4, '0')}:abcd`,
    }),
  );

describe('reverb - a resumed durable without a tempo map', () => {
  it(
    'resume - claims stored while the replica was down are counted when ' +
      'it comes back, even before any pulse is known',
    async () => {
      const cluster = 'nomap';
      const counted = (r: Reverb) => r.windows().reduce((n, w) => n + w.claims, 0);
      const r1 = new Reverb({ bus: fx.bus, clusterId: cluster, nodeId: 'rn', signatures: 'off' });
      await r1.start();
      for (let i = 0; i < 3; i++) await fx.bus.publishDurable(subjects(cluster).status, claim(`agent:a${i}`, 5, i));
      await waitFor(() => counted(r1) === 3, { message: 'the first three claims' });
      await r1.stop();
      // Stored while no replica runs; no pulse has ever run, so there is no tempo map to rebuild bars from.
      for (let i = 3; i < 8; i++) await fx.bus.publishDurable(subjects(cluster).status, claim(`agent:a${i}`, 6, i));
      const r2 = new Reverb({ bus: fx.bus, clusterId: cluster, nodeId: 'rn', signatures: 'off' });
      await r2.start();
      fx.cleanup(() => r2.stop());
      expect(r2.tempoMap).toBeNull();
      await waitFor(() => counted(r2) === 5, { timeoutMs: 5000, message: 'the five claims stored while it was down' });
    },
  );
});
