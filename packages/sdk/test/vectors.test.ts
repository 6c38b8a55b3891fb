/**
 * The shared test vectors (testdata/vectors/, also read by the Go SDK's tests in sdk-go/):
 * window ids, HLC strings, a signed claim's exact bytes and signature for a fixed key, and
 * frames the gate must accept or refuse with the reason. One contract, two languages.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkTempoMap,
  FakeClock,
  formatHlc,
  hlcNodeSuffix,
  parseHlc,
  windowId,
  windowIdForBeat,
} from '@backbeat/core';
import { SIGNATURE_HEADER, validateStatusClaim, WINDOW_ID_HEADER } from '@backbeat/contracts';
import { publicKeyBase64, signPayload, toSigningKey, type DropReason } from '@backbeat/sdk';
import { FrameGate, HOLD_MS, type GateListener } from '@backbeat/sdk/internal';

const dir = fileURLToPath(new URL('../../../testdata/vectors/', import.meta.url));
const read = <T>(name: string): T => JSON.parse(readFileSync(dir + name, 'utf8')) as T;

describe('shared vectors: window ids', () => {
  const vs =
    read<Array<{ cluster: string; beat_index: number; bar_length: number; downbeat_index: number; window_id: string }>>(
      'window-ids.json',
    );
  it.each(vs)('$cluster beat $beat_index, bars of $bar_length', (v) => {
    expect(windowId(v.cluster, v.downbeat_index)).toBe(v.window_id);
    expect(windowIdForBeat(v.cluster, v.beat_index, v.bar_length)).toBe(v.window_id);
  });
});

describe('shared vectors: HLC', () => {
  const vs = read<{
    strings: Array<{ text: string; valid: boolean; physical?: number; logical?: number; node?: string }>;
    node_suffix: Array<{ node_id: string; suffix: string }>;
  }>('hlc.json');
  it.each(vs.strings)('parses "$text" (valid: $valid)', (v) => {
    if (!v.valid) return expect(() => parseHlc(v.text)).toThrow();
    const ts = parseHlc(v.text);
    expect(ts).toEqual({ physical: v.physical ?? 0, logical: v.logical ?? 0, node: v.node });
    expect(parseHlc(formatHlc(ts))).toEqual(ts);
  });
  it.each(vs.node_suffix)('node suffix of $node_id', (v) => expect(hlcNodeSuffix(v.node_id)).toBe(v.suffix));
});

describe('shared vectors: signed claims', () => {
  const vs = read<{
    seed_hex: string;
    public_key: string;
    cluster: string;
    claims: Array<{
      name: string;
      claim: Record<string, unknown>;
      payload: string;
      signature: string;
      bar_length: number;
      headers: Record<string, string>;
      schema_valid: boolean;
    }>;
  }>('signed-claims.json');
  const key = toSigningKey(Buffer.from(vs.seed_hex, 'hex'));
  it('derives the public key of the trust file', () => expect(publicKeyBase64(key)).toBe(vs.public_key));
  it.each(vs.claims)('$name: payload bytes, signature and headers', (v) => {
    expect(JSON.stringify(v.claim)).toBe(v.payload); // the TypeScript SDK's serialisation, same field order
    expect(signPayload(key, new TextEncoder().encode(v.payload))).toBe(v.signature);
    expect(v.headers[SIGNATURE_HEADER]).toBe(v.signature);
    expect(validateStatusClaim(JSON.parse(v.payload)).valid).toBe(v.schema_valid);
    expect(windowIdForBeat(vs.cluster, v.claim.beat_index as number, v.bar_length)).toBe(v.headers[WINDOW_ID_HEADER]);
  });
});

describe('shared vectors: the frame gate', () => {
  const fv = read<{
    cluster: string;
    tempo_map: unknown;
    lease_term: number;
    ahead_ms: number;
    hold_ms: number;
    frames: Array<{
      name: string;
      payload: string;
      term: string | null;
      received_at: number;
      expect: { accept?: { beat_index: number; phase_index: number }; drop?: DropReason };
    }>;
  }>('gate-frames.json');
  it('holds a frame as long as this SDK does', () => expect(fv.hold_ms).toBe(HOLD_MS));
  it.each(fv.frames)('$name', (fc) => {
    const clock = new FakeClock(fc.received_at);
    const gate = new FrameGate(fv.cluster, clock, { aheadMs: fv.ahead_ms });
    const verdicts: Array<{ accept?: { beat_index: number; phase_index: number }; drop?: DropReason }> = [];
    const listener: GateListener = {
      accept: (f) => verdicts.push({ accept: { beat_index: f.pos.beatIndex, phase_index: f.pos.phaseIndex } }),
      drop: (reason) => verdicts.push({ drop: reason }),
      mapChanged: () => undefined,
      leaseChanged: () => undefined,
    };
    gate.listeners.add(listener);
    gate.setMap(checkTempoMap(fv.tempo_map));
    gate.setLease({ state: 'held', term: fv.lease_term, nodeId: 'pulse-1' });
    gate.offerBytes(new TextEncoder().encode(fc.payload), fc.term ?? undefined, fc.received_at);
    if (verdicts.length === 0) clock.advance(fv.hold_ms); // a held frame: no news from KV
    expect(verdicts).toEqual([fc.expect]);
  });
});
