import { describe, expect, it } from 'vitest';
import { createTempoMap, slot } from '@backbeat/core';
import { encodeJson } from '@backbeat/transport';
import { FrameEncoder, gateLease, gatePending, gateTempoMap, gateTermRecord } from '@backbeat/pulse/internal';

const T0 = 1_700_000_000_000;
const text = (s: string) => new TextEncoder().encode(s);

describe('kv gates - one check per kind of KV value', () => {
  it('gates - a good tempo map passes; garbage and a map breaking a rule are refused with the rule', () => {
    const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    expect(gateTempoMap(encodeJson(map))).toEqual({ ok: true, value: map });
    expect(gateTempoMap(text('{not json'))).toMatchObject({ ok: false, reason: expect.stringMatching(/tempo map/) });
    const bad = gateTempoMap(encodeJson({ ...map, segments: [{ ...map.segments[0], tempoBpm: 0 }] }));
    expect(bad.ok).toBe(false);
    expect(gateTempoMap(encodeJson(null)).ok).toBe(false);
  });

  it('gates - pending tempo change: fields checked, each refusal names its field', () => {
    const good = { tempo_bpm: 22, justification: '', requested_at: new Date(T0).toISOString(), requested_by: 'n1' };
    expect(gatePending(encodeJson(good))).toEqual({ ok: true, value: good });
    expect(gatePending(encodeJson({ ...good, tempo_bpm: 'fast' }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/tempo_bpm/),
    });
    expect(gatePending(encodeJson({ ...good, tempo_bpm: 5000 }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/tempo_bpm/),
    });
    expect(gatePending(encodeJson({ ...good, requested_by: 3 }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/requested_by/),
    });
    expect(gatePending(encodeJson({ ...good, effective_beat: -1 }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/effective_beat/),
    });
    expect(gatePending(encodeJson({ ...good, effective_at: 'soon' }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/effective_at/),
    });
    expect(gatePending(text('[]')).ok).toBe(false);
  });

  it('gates - lease and term records: term must be an integer >= 1', () => {
    expect(gateLease(encodeJson({ node_id: 'a', term: 3, acquired_at: 'x' }))).toMatchObject({
      ok: true,
      value: { term: 3 },
    });
    expect(gateLease(encodeJson({ node_id: 'a', term: '3', acquired_at: 'x' }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/term/),
    });
    expect(
      gateTermRecord(encodeJson({ term: 2, node_id: 'a', last_slot: { beat_index: 4, phase_index: 1 } })),
    ).toMatchObject({ ok: true, value: { term: 2, last_slot: { beat_index: 4, phase_index: 1 } } });
    expect(gateTermRecord(encodeJson({ term: 0, node_id: 'a' })).ok).toBe(false);
    expect(gateTermRecord(text('')).ok).toBe(false);
  });
});

describe('frame encoder - slots prepared ahead', () => {
  it('encoder - takes the prepared slot only for the same slot key on the same map; the HLC is spliced in', () => {
    const map = createTempoMap({ startTime: T0, tempoBpm: 120, barLength: 4 });
    const enc = new FrameEncoder('c1');
    const pos = slot(map, 3, 1);
    const prepared = enc.prepare(map, pos);
    expect(enc.take(map, pos)).toBe(prepared);
    enc.prepare(map, pos);
    expect(enc.take(map, slot(map, 3, 2))).not.toBe(prepared); // another slot: built now
    enc.prepare(map, pos);
    const newer = { ...map };
    expect(enc.take(newer, pos).map).toBe(newer); // a newer map: built again
    const frame = JSON.parse(new TextDecoder().decode(enc.encode(prepared, '0001:0002:abcd')));
    expect(frame).toMatchObject({ cluster_id: 'c1', beat_index: 3, phase: 'execute', hlc: '0001:0002:abcd' });
    expect(prepared.legacy).toBeUndefined();
    expect(enc.prepare(map, slot(map, 4, 0)).legacy).toBeDefined();
  });
});
