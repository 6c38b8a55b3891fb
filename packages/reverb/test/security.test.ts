import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowIdForBeat } from '@backbeat/core';
import { NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus, subjects, type BusMsg } from '@backbeat/transport';
import { publicKeyBase64 } from '@backbeat/sdk';
import { Reverb, TrustStore, buildReverbApp, checkClaim } from '@backbeat/reverb';
import { startPulse } from './helpers.js';

const CLUSTER = 'secure';
let server: NatsServer;
let bus: NatsBus;
let reverb: Reverb;
let stopPulse: () => Promise<void>;
const dlq: BusMsg[] = [];
const key = () => generateKeyPairSync('ed25519').privateKey;
const oldKey = key();
const newKey = key();
const otherKey = key();
const enc = new TextEncoder();

beforeAll(async () => {
  server = await NatsServer.start();
  bus = await NatsBus.connect({ servers: server.url });
  stopPulse = (await startPulse(server.url, CLUSTER, 120, 4)).stop;
  const trust = TrustStore.parse(
    JSON.stringify({
      agents: {
        'agent:rot': [publicKeyBase64(oldKey), publicKeyBase64(newKey)],
        'agent:plain': [publicKeyBase64(oldKey)],
      },
    }),
  );
  reverb = new Reverb({ bus, clusterId: CLUSTER, nodeId: 'sec', signatures: 'require', trust });
  await reverb.start();
  bus.subscribe(subjects(CLUSTER).dlq, (m) => dlq.push(m));
  await waitFor(() => reverb.currentBeat >= 0, { timeoutMs: 5000, message: 'reverb to follow the beat' });
});
afterAll(async () => {
  await reverb?.stop();
  await stopPulse?.();
  await bus?.close();
  await server?.stop();
});

let n = 0;
function claim(agent: string, beat = reverb.currentBeat): Uint8Array {
  return enc.encode(
    JSON.stringify({
      type: 'backbeat.statusclaim.v1',
      agent_id: agent,
      beat_index: beat,
      state: 'executing',
      hlc: `18bcfe56800:${(n++).toString(16).padStart(4, '0')}:abcd`,
    }),
  );
}
function headers(agent: string, data: Uint8Array, k?: KeyObject, beat = reverb.currentBeat): Record<string, string> {
  const h: Record<string, string> = {
    'x-agent-id': agent,
    'x-window-id': windowIdForBeat(CLUSTER, beat, 4),
    'x-hlc': '18bcfe56800:0000:abcd',
  };
  if (k) h['x-signature'] = sign(null, data, k).toString('base64');
  return h;
}
async function send(data: Uint8Array, h: Record<string, string>): Promise<void> {
  await bus.publishDurable(subjects(CLUSTER).status, data, { headers: h });
}
const reasons = () => dlq.map((m) => m.headers['x-reason']);

describe('reverb - signatures required (BACKBEAT-REQ-044)', () => {
  it(
    'security - forged, unsigned, wrong-key, unknown and replayed claims go to ' +
      'the DLQ with their reason; a rotated key is accepted',
    async () => {
      const before = reverb.metrics.registry;
      const good = claim('agent:rot');
      await send(good, headers('agent:rot', good, newKey)); // rotated: second key of the agent
      const old = claim('agent:rot');
      await send(old, headers('agent:rot', old, oldKey));
      const forged = claim('agent:plain');
      const forgedHeaders = headers('agent:plain', forged, oldKey);
      // payload changed after signing
      await send(enc.encode(new TextDecoder().decode(forged).replace('executing', 'completed')), forgedHeaders);
      const unsigned = claim('agent:plain');
      await send(unsigned, headers('agent:plain', unsigned));
      const wrong = claim('agent:plain');
      await send(wrong, headers('agent:plain', wrong, otherKey));
      const stranger = claim('agent:nobody');
      await send(stranger, headers('agent:nobody', stranger, otherKey));
      const far = claim('agent:rot', reverb.currentBeat + 1000);
      await send(far, headers('agent:rot', far, newKey, reverb.currentBeat + 1000));
      await send(good, headers('agent:rot', good, newKey)); // the same claim again: a replay
      await waitFor(() => dlq.length >= 6, { timeoutMs: 5000, message: 'six dead letters' });
      expect([...reasons()].sort()).toEqual([
        'bad_signature',
        'bad_signature',
        'replayed',
        'replayed',
        'unknown_agent',
        'unsigned',
      ]);
      expect(reasons().filter((r) => r === 'bad_signature')).toHaveLength(2);
      expect(dlq.every((m) => (m.headers['x-error'] ?? '').length > 10)).toBe(true);
      const metrics = await before.metrics();
      expect(metrics).toMatch(/backbeat_reverb_claims_rejected_total\{reason="bad_signature"\} 2/);
      expect(metrics).toMatch(/backbeat_reverb_claims_rejected_total\{reason="unsigned"\} 1/);
      expect(metrics).toMatch(/backbeat_reverb_claims_total\{outcome="accepted"\} 2/);
      const w = reverb.windows().find((x) => x.fromBeat <= reverb.currentBeat && x.toBeat >= reverb.currentBeat)!;
      expect(w.agents).toBe(1); // agent:rot, with both its keys
    },
  );

  it('security - the report of a bar with a bad signature says secret_rotations_ok false', async () => {
    const report = await waitFor(
      () => {
        const r = reverb.lastReport;
        return r && (r.performance?.claims_rejected ?? 0) > 0 ? r : null;
      },
      { timeoutMs: 6000 },
    );
    expect(report.secret_rotations_ok).toBe(false);
    expect(report.issues.map((i) => i.category)).toEqual(
      expect.arrayContaining(['bad_signature', 'unsigned', 'unknown_agent']),
    );
  });
});

describe('reverb - no input crashes it', () => {
  it('fuzz - arbitrary bytes, JSON and headers never throw (fast-check)', () => {
    const trust = TrustStore.parse(JSON.stringify({ agents: { 'agent:plain': [publicKeyBase64(oldKey)] } }));
    const anyJson = fc.jsonValue().map((v) => JSON.stringify(v));
    const claimish = fc
      .record({
        type: fc.constantFrom('backbeat.statusclaim.v1', 'x'),
        agent_id: fc.oneof(fc.string(), fc.constant('agent:plain')),
        beat_index: fc.oneof(fc.integer(), fc.double(), fc.string()),
        state: fc.oneof(fc.constantFrom('executing', 'done'), fc.string()),
        hlc: fc.oneof(fc.string(), fc.constant('7ffd:0001:abcd')),
        extra: fc.option(fc.anything()),
      })
      .map((o) => JSON.stringify(o));
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      anyJson.map((s) => enc.encode(s)),
      claimish.map((s) => enc.encode(s)),
    );
    const hdrs = fc.dictionary(
      fc.constantFrom('x-agent-id', 'x-signature', 'x-window-id', 'x-hlc', 'other'),
      fc.string({ maxLength: 100 }),
    );
    fc.assert(
      fc.property(
        data,
        hdrs,
        fc.constantFrom('off', 'verify', 'require') as fc.Arbitrary<'off' | 'verify' | 'require'>,
        (d, h, mode) => {
          const v = checkClaim(d, h, { mode, trust, maxBytes: 65_536, currentBeat: 10, replayBeats: 8 });
          expect(typeof v.accept).toBe('boolean');
          expect(() => reverb.ingest(d, h, Date.now())).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fuzz - a 1 MiB claim is refused as too large; the service keeps running', async () => {
    const big = enc.encode(JSON.stringify({ type: 'backbeat.statusclaim.v1', notes: 'x'.repeat(1024 * 1024 - 200) }));
    expect(reverb.ingest(big, {}, Date.now())).toBe('too_large');
    const app = buildReverbApp(reverb);
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(200);
    await app.close();
  });
});

describe('reverb - trust file', () => {
  it('trust - bad files are refused with the agent and key at fault', () => {
    expect(() => TrustStore.parse('{')).toThrow(/not JSON/);
    expect(() => TrustStore.parse('{"agents": {"agent:a": ["abc"]}}')).toThrow(
      /agents\["agent:a"\]\[0\] is not base64 of a raw 32-byte Ed25519 public key/,
    );
    expect(() => TrustStore.parse('{"agents": {"agent:a": []}}')).toThrow(/non-empty array/);
    expect(() => TrustStore.load('/nonexistent/trust.json')).toThrow(/no such file/);
  });
});
