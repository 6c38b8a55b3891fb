import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock, compareHlc, createTempoMap, formatHlc, parseHlc } from '@backbeat/core';
import { validateBarReport } from '@backbeat/contracts';
import { publicKeyBase64 } from '@backbeat/sdk';
import {
  TrustStore,
  WindowAggregation,
  assertBindable,
  checkClaim,
  classifyConsumers,
  defaultReverbNodeId,
  issueText,
  resolveReverbOptions,
} from '@backbeat/reverb';
import { HandledSeqs, HandledWaiters, compareHlcText, planRecovery } from '@backbeat/reverb/internal';

const map = createTempoMap({ startTime: 1_000_000, tempoBpm: 60, barLength: 4 }); // 1 s beats, 4 s bars
const enc = new TextEncoder();

describe('reverb - recovery plan', () => {
  it('recovery - rebuilds every bar after the last stored report, reads from one beat before the first', () => {
    // now: beat 13 (bar 12 in progress); last report: bar 4 -> bars 8 ended unreported.
    const plan = planRecovery({ map, barLength: 4, now: 1_000_000 + 13_500, lastReported: 4, maxBars: 1000 });
    expect(plan).toEqual({ firstBar: 8, currentBar: 12, readFrom: 1_000_000 + 7000, skippedBars: 0 });
  });

  it('recovery - nothing missed when the last bar is reported; the bar before is rebuilt without any report', () => {
    expect(planRecovery({ map, barLength: 4, now: 1_000_000 + 13_500, lastReported: 8, maxBars: 1000 })).toMatchObject({
      firstBar: 12,
      currentBar: 12,
    });
    expect(
      planRecovery({ map, barLength: 4, now: 1_000_000 + 13_500, lastReported: undefined, maxBars: 1000 }),
    ).toMatchObject({ firstBar: 8, currentBar: 12 });
    expect(
      planRecovery({ map, barLength: 4, now: 1_000_000 + 500, lastReported: undefined, maxBars: 1000 }),
    ).toMatchObject({ firstBar: 0, currentBar: 0 });
    expect(planRecovery({ map, barLength: 4, now: 999_000, lastReported: undefined, maxBars: 1000 })).toBeNull();
  });

  it('recovery - at most maxBars are rebuilt, the skipped ones are counted', () => {
    expect(planRecovery({ map, barLength: 4, now: 1_000_000 + 400_500, lastReported: 0, maxBars: 10 })).toMatchObject({
      firstBar: 360,
      currentBar: 400,
      skippedBars: 89,
    });
  });
});

describe('reverb - handled stream sequences', () => {
  it('handled - the floor closes over sequences handled out of order; a handled one is known again', () => {
    const h = new HandledSeqs();
    expect(h.has(1)).toBe(false);
    expect(h.upTo).toBeUndefined();
    h.add(10); // the first sets the floor below it
    expect(h.upTo).toBe(10);
    h.add(12);
    h.add(13);
    expect([h.upTo, h.pending, h.has(12), h.has(11)]).toEqual([10, 2, true, false]);
    h.add(11);
    expect([h.upTo, h.pending]).toEqual([13, 0]);
    h.add(20);
    h.advanceTo(18); // a stream read covered 14..18
    expect([h.upTo, h.pending, h.has(15), h.has(19)]).toEqual([18, 1, true, false]);
    h.add(19);
    expect([h.upTo, h.pending]).toEqual([20, 0]);
    h.advanceTo(5); // never backwards
    expect(h.upTo).toBe(20);
  });

  it(
    'handled - any order of adds and reads leaves exactly the added ' + 'and covered sequences handled (fast-check)',
    () => {
      const op = fc.oneof(
        fc.record({ add: fc.integer({ min: 1, max: 60 }) }),
        fc.record({ advance: fc.integer({ min: 1, max: 60 }) }),
      );
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
          const h = new HandledSeqs();
          const model = new Set<number>();
          let floor: number | undefined;
          for (const o of ops) {
            if ('add' in o) {
              floor ??= o.add - 1;
              h.add(o.add);
              model.add(o.add);
            } else {
              floor = Math.max(floor ?? o.advance, o.advance);
              h.advanceTo(o.advance);
            }
          }
          for (let s = 1; s <= 61; s++) expect(h.has(s)).toBe(s <= floor! || model.has(s));
        }),
        { numRuns: 300 },
      );
    },
  );

  it('handled - a wait ends true when the floor reaches its target, false at its timeout', async () => {
    const clock = new FakeClock();
    const h = new HandledSeqs();
    const waits = new HandledWaiters(clock, () => h.upTo);
    h.advanceTo(4);
    await expect(waits.whenHandled(4, 100)).resolves.toBe(true);
    const reached = waits.whenHandled(6, 100);
    const missed = waits.whenHandled(9, 100);
    h.add(6);
    h.add(5);
    waits.check();
    await expect(reached).resolves.toBe(true);
    clock.advance(100);
    await expect(missed).resolves.toBe(false);
  });
});

describe('reverb - window aggregation', () => {
  const claim = (agent: string, beat: number, state: 'failed' | 'executing', hlc: string) => ({
    type: 'backbeat.statusclaim.v1' as const,
    agent_id: agent,
    beat_index: beat,
    state,
    hlc,
  });
  it('window - plural and singular issue texts; late claims, built_late and rotation problems in the report', () => {
    expect(issueText('failed_agents', 1)).toBe('1 agent reported failed');
    expect(issueText('failed_agents', 2)).toBe('2 agents reported failed');
    const w = new WindowAggregation('d1fbb9a845ef27e62d99bf566d322e19', 16, 8, 0);
    w.add(claim('agent:a', 16, 'failed', '18bcfe56800:0000:0001'), true, 0, 7);
    w.issue('late_claims', 0);
    w.issue('late_claims', 0);
    w.issue('retired_key', 0);
    expect(w.seen('agent:a', '18bcfe56800:0000:0001')).toBe(7);
    expect(w.seen('agent:a', '18bcfe56800:0000:0002')).toBeUndefined();
    const r = w.report('chorus-aus-01', {
      tempoDriftMs: 0,
      rollupMs: 1.5,
      barLength: 8,
      generatedAt: 0,
      hlc: '18bcfe56800:0000:0001',
      builtLate: true,
    });
    expect(validateBarReport(r)).toMatchObject({ valid: true });
    expect(r).toMatchObject({
      built_late: true,
      late_claims: 2,
      secret_rotations_ok: false,
      agents_reporting: 1,
      performance: { claims_processed: 1, claims_rejected: 1, rollup_ms: 1.5 },
    });
    expect(r.issues.find((i) => i.category === 'failed_agents')?.description).toBe('1 agent reported failed');
    expect(r.issues.find((i) => i.category === 'late_claims')?.description).toBe(
      '2 claims arrived for bars already reported (not added to those reports)',
    );
    const onTime = new WindowAggregation('d1fbb9a845ef27e62d99bf566d322e19', 16, 8, 0).report('chorus-aus-01', {
      tempoDriftMs: 0,
      rollupMs: 0,
      barLength: 8,
      generatedAt: 0,
      hlc: '18bcfe56800:0000:0001',
    });
    expect(onTime.built_late).toBeUndefined();
    expect(onTime.late_claims).toBeUndefined();
    expect(onTime.secret_rotations_ok).toBe(true);
  });
});

describe('reverb - HLC order without parsing', () => {
  it('window - compareHlcText orders wire HLCs exactly like compareHlc (fast-check), leading zeros included', () => {
    const hlc = fc.record({
      physical: fc.nat({ max: 2 ** 48 }),
      logical: fc.nat({ max: 70_000 }),
      node: fc.nat({ max: 0xffffff }).map((n) => n.toString(16)),
    });
    const pad = fc.nat({ max: 3 });
    fc.assert(
      fc.property(hlc, hlc, pad, pad, (a, b, pa, pb) => {
        const wire = (h: typeof a, p: number) =>
          formatHlc(h)
            .split(':')
            .map((g) => '0'.repeat(p) + g)
            .join(':');
        const x = wire(a, pa);
        const y = wire(b, pb);
        expect(Math.sign(compareHlcText(x, y))).toBe(Math.sign(compareHlc(parseHlc(x), parseHlc(y))));
      }),
      { numRuns: 500 },
    );
    // Groups of equal widths (one agent's clock): the text fast path.
    fc.assert(
      fc.property(hlc, hlc, (a, b) => {
        const wire = (h: typeof a) =>
          formatHlc(h)
            .split(':')
            .map((g, i) => g.padStart([13, 5, 6][i]!, '0'))
            .join(':');
        const x = wire(a);
        const y = wire(b);
        expect(x.length).toBe(y.length);
        expect(Math.sign(compareHlcText(x, y))).toBe(Math.sign(compareHlc(parseHlc(x), parseHlc(y))));
      }),
      { numRuns: 500 },
    );
  });
});

describe('reverb - signature KPIs (secret_rotations_ok)', () => {
  it(
    'trust - a claim signed with a retired key is refused as retired_key; a ' +
      'current key verifies; a key not listed is bad_signature',
    () => {
      const oldKey = generateKeyPairSync('ed25519').privateKey;
      const newKey = generateKeyPairSync('ed25519').privateKey;
      const otherKey = generateKeyPairSync('ed25519').privateKey;
      const trust = TrustStore.parse(
        JSON.stringify({
          agents: { 'agent:r': [publicKeyBase64(newKey)] },
          retired: { 'agent:r': [publicKeyBase64(oldKey)] },
        }),
      );
      const data = enc.encode(
        JSON.stringify({
          type: 'backbeat.statusclaim.v1',
          agent_id: 'agent:r',
          beat_index: 3,
          state: 'executing',
          hlc: '18bcfe56800:0000:0001',
        }),
      );
      const ctx = { mode: 'require' as const, trust, maxBytes: 65_536, currentBeat: 3, replayBeats: 8 };
      const signed = (k: typeof oldKey) => ({
        'x-agent-id': 'agent:r',
        'x-signature': sign(null, data, k).toString('base64'),
      });
      expect(checkClaim(data, signed(newKey), ctx)).toMatchObject({ accept: true });
      expect(checkClaim(data, signed(oldKey), ctx)).toMatchObject({ accept: false, reason: 'retired_key' });
      expect(checkClaim(data, signed(otherKey), ctx)).toMatchObject({ accept: false, reason: 'bad_signature' });
      expect(() => TrustStore.parse(JSON.stringify({ agents: {}, retired: { 'agent:r': ['abc'] } }))).toThrow(
        /retired\["agent:r"\]\[0\]/,
      );
    },
  );
});

describe('reverb - identity and admin auth', () => {
  it('identity - the default node id is host plus cluster, the same at every start, never random', () => {
    expect(defaultReverbNodeId('chorus-aus-01', 'box.example')).toBe('box_example-chorus-aus-01');
    const a = resolveReverbOptions({ clusterId: 'c1', host: 'h1' });
    const b = resolveReverbOptions({ clusterId: 'c1', host: 'h1' });
    expect(a.nodeId).toBe('h1-c1');
    expect(b.nodeId).toBe(a.nodeId);
  });

  it('identity - orphaned consumers: reverb durables with no presence entry and no client pulling', () => {
    const c = (name: string, waiting = 0) => ({
      name,
      durable: true,
      pending: 3,
      ackPending: 0,
      waiting,
      deliveredSeq: 9,
    });
    const presence = [
      {
        kind: 'reverb' as const,
        node_id: 'live',
        host: 'h',
        pid: 1,
        started_at: '',
        updated_at: '',
        info: { consumer: 'reverb_live' },
      },
    ];
    const list = classifyConsumers(
      [c('reverb_live'), c('reverb_gone'), c('reverb_pulling', 1), c('other'), { ...c('eph'), durable: false }],
      presence,
    );
    expect(list.map((x) => [x.name, x.orphaned])).toEqual([
      ['other', false],
      ['reverb_gone', true],
      ['reverb_live', false],
      ['reverb_pulling', false],
    ]);
  });

  it('auth - loopback addresses only without a token', () => {
    expect(() => assertBindable('0.0.0.0', undefined)).toThrow(/not a loopback address: without --admin-token/);
    expect(() => assertBindable('0.0.0.0', 's3cret')).not.toThrow();
    expect(() => assertBindable('127.0.0.1', undefined)).not.toThrow();
    expect(() => assertBindable('[::1]', undefined)).not.toThrow();
  });
});
