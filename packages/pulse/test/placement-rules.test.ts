/**
 * The placement rule, pure (docs/spec.md §7 Election, terms and fencing, "Stream placement"): when
 * the leading pulse asks a beat-critical stream's leader to step down, how often, how many times,
 * and what a stream info or step-down answer may contain.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@backbeat/core';
import { resolvePulseOptions } from '@backbeat/pulse';
import {
  afterLook,
  afterPause,
  afterStepDown,
  AVOID_OWN_SERVER,
  beatCriticalStreams,
  conflict,
  FRESH_RECORD,
  gateStepDownAnswer,
  gateStreamInfo,
  judge,
  placementRules,
  type AvoidRule,
  type PlacementInput,
  type StreamLook,
} from '@backbeat/pulse/internal';

const rules = placementRules(2000);
const onX: StreamLook = {
  stream: 'KV_backbeat_c_lease',
  replicas: 3,
  leader: 'n0',
  followers: [
    { name: 'n1', current: true },
    { name: 'n2', current: true },
  ],
};
const none = new Map<string, string | undefined>();
const base: PlacementInput = {
  now: 100_000,
  look: onX,
  avoid: [AVOID_OWN_SERVER],
  ownServer: 'n0',
  leaders: none,
  record: FRESH_RECORD,
  renewalAgeMs: 10,
  rules,
};
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('placement rules - when a leader asks a stream leader to step down', () => {
  it('placement rules - led by its own server, a follower caught up, a fresh renewal: step down (colocated)', () => {
    expect(judge(base)).toEqual({ kind: 'step-down', reason: 'colocated' });
    expect(rules).toEqual({ minIntervalMs: 10_000, maxAttempts: 3, pauseMs: 60_000, freshRenewalMs: 250 });
  });

  it('placement rules - nothing to do: server unknown, R1, electing, led elsewhere, no follower caught up', () => {
    expect(judge({ ...base, ownServer: undefined })).toEqual({ kind: 'leave', why: 'server unknown' });
    expect(judge({ ...base, look: { ...onX, replicas: 1, followers: [] } })).toEqual({
      kind: 'leave',
      why: 'single replica',
    });
    expect(judge({ ...base, look: { ...onX, leader: undefined } })).toEqual({ kind: 'leave', why: 'electing' });
    expect(judge({ ...base, look: { ...onX, leader: 'n1' } })).toEqual({ kind: 'leave', why: 'led elsewhere' });
    const behind = { ...onX, followers: onX.followers.map((f) => ({ ...f, current: false })) };
    expect(judge({ ...base, look: behind })).toEqual({ kind: 'leave', why: 'no current follower' });
  });

  it('placement rules - lease last answered over TTL/8 ago (or never): wait for the next renewal', () => {
    expect(judge({ ...base, renewalAgeMs: 251 })).toEqual({ kind: 'wait-renewal' });
    expect(judge({ ...base, renewalAgeMs: null })).toEqual({ kind: 'wait-renewal' });
    expect(judge({ ...base, renewalAgeMs: 250 }).kind).toBe('step-down');
  });

  it('placement rules - one step-down per stream per 10 s; after 3 in a row, 60 s of pause', () => {
    let r = afterStepDown(FRESH_RECORD, base.now);
    expect(r).toEqual({ lastAt: base.now, attempts: 1, pausedUntil: undefined });
    expect(judge({ ...base, record: r, now: base.now + 9_999 })).toEqual({ kind: 'leave', why: 'rate limited' });
    expect(judge({ ...base, record: r, now: base.now + 10_000 }).kind).toBe('step-down');
    r = afterStepDown(afterStepDown(r, base.now + 10_000), base.now + 20_000);
    expect(r.attempts).toBe(3);
    expect(judge({ ...base, record: r, now: base.now + 30_000 })).toEqual({ kind: 'pause' });
    r = afterPause(r, base.now + 30_000, rules);
    expect(judge({ ...base, record: r, now: base.now + 89_999 })).toEqual({ kind: 'leave', why: 'paused' });
    expect(judge({ ...base, record: r, now: base.now + 90_000 }).kind).toBe('step-down');
  });

  it('placement rules - seen led elsewhere, the attempts count afresh; seen here again, they do not', () => {
    const r = afterStepDown(afterStepDown(FRESH_RECORD, 0), 10_000);
    const own = [AVOID_OWN_SERVER];
    expect(afterLook(r, { ...onX, leader: 'n2' }, own, 'n0', none)).toEqual({ ...r, attempts: 0 });
    expect(afterLook(r, onX, own, 'n0', none)).toBe(r);
    expect(afterLook(r, { ...onX, leader: undefined }, own, 'n0', none)).toBe(r);
    expect(afterLook(r, { ...onX, leader: 'n2' }, own, undefined, none)).toBe(r); // own server not known
  });
});

describe("placement rules - a stream that avoids another stream's leader (the beat stream, the lease's)", () => {
  const lease = 'KV_backbeat_c_lease';
  const withLease: AvoidRule[] = [{ kind: 'leader-of', stream: lease, reason: 'with-lease' }];
  const beat: StreamLook = { ...onX, stream: 'BACKBEAT_c_BEAT', leader: 'n1' };
  const at = (leader: string | undefined): Map<string, string | undefined> => new Map([[lease, leader]]);
  const b: PlacementInput = { ...base, look: beat, avoid: withLease, leaders: at('n1') };

  it("placement rules - led by the lease stream's leader: step down (with-lease), same limits as colocated", () => {
    expect(judge(b)).toEqual({ kind: 'step-down', reason: 'with-lease' });
    expect(judge({ ...b, renewalAgeMs: 251 })).toEqual({ kind: 'wait-renewal' });
    const r = afterStepDown(FRESH_RECORD, b.now);
    expect(judge({ ...b, record: r, now: b.now + 9_999 })).toEqual({ kind: 'leave', why: 'rate limited' });
    const used = afterStepDown(afterStepDown(r, b.now + 10_000), b.now + 20_000);
    expect(judge({ ...b, record: used, now: b.now + 30_000 })).toEqual({ kind: 'pause' });
    const behind = { ...beat, followers: beat.followers.map((f) => ({ ...f, current: false })) };
    expect(judge({ ...b, look: behind })).toEqual({ kind: 'leave', why: 'no current follower' });
  });

  it("placement rules - led apart from the lease's leader, or on the pulse's own server: left alone", () => {
    expect(judge({ ...b, leaders: at('n2') })).toEqual({ kind: 'leave', why: 'led elsewhere' });
    // The beat stream does not avoid the pulse's own server (the direct fallback covers its election).
    expect(judge({ ...b, ownServer: 'n1', leaders: at('n2') })).toEqual({ kind: 'leave', why: 'led elsewhere' });
    expect(judge({ ...b, ownServer: undefined })).toEqual({ kind: 'step-down', reason: 'with-lease' });
  });

  it("placement rules - the lease stream's leader not known this round (electing, unanswered): left alone", () => {
    expect(judge({ ...b, leaders: at(undefined) })).toEqual({ kind: 'leave', why: 'server unknown' });
    expect(judge({ ...b, leaders: none })).toEqual({ kind: 'leave', why: 'server unknown' });
    const r = afterStepDown(FRESH_RECORD, 0);
    expect(afterLook(r, beat, withLease, 'n0', at(undefined))).toBe(r); // no fresh count while unknown
    expect(afterLook(r, beat, withLease, 'n0', at('n1'))).toBe(r);
    expect(afterLook(r, beat, withLease, 'n0', at('n2'))).toEqual({ ...r, attempts: 0 });
  });

  it('placement rules - two rules: the first broken one names the reason; clear only when all are known', () => {
    const both: AvoidRule[] = [AVOID_OWN_SERVER, ...withLease];
    expect(conflict(beat, both, 'n1', at('n1'))).toEqual({ kind: 'broken', reason: 'colocated' });
    expect(conflict(beat, both, 'n0', at('n1'))).toEqual({ kind: 'broken', reason: 'with-lease' });
    expect(conflict(beat, both, 'n0', at('n2'))).toEqual({ kind: 'clear' });
    expect(conflict(beat, both, undefined, at('n2'))).toEqual({ kind: 'unknown' });
    expect(conflict(beat, both, undefined, at('n1'))).toEqual({ kind: 'broken', reason: 'with-lease' });
  });

  it('placement rules - beat-critical streams: lease first; the beat stream avoids its leader (server fencing)', () => {
    const own = [AVOID_OWN_SERVER];
    expect(beatCriticalStreams('c', false)).toEqual([
      { stream: lease, avoid: own },
      { stream: 'KV_backbeat_c_state', avoid: own },
    ]);
    expect(beatCriticalStreams('c', true)).toEqual([
      { stream: lease, avoid: own },
      { stream: 'KV_backbeat_c_state', avoid: own },
      { stream: 'BACKBEAT_c_BEAT', avoid: withLease },
    ]);
  });
});

describe('placement rules - the gates of the server answers', () => {
  it('placement rules - a stream info answer: replicas, leader and followers; one server has no leader', () => {
    const info = {
      type: 'io.nats.jetstream.api.v1.stream_info_response',
      config: { name: 'KV_x', num_replicas: 3 },
      cluster: {
        name: 'c',
        leader: 'n0',
        replicas: [
          { name: 'n1', current: true, active: 1 },
          { name: 'n2', current: false },
        ],
      },
    };
    expect(gateStreamInfo('KV_x', enc(info))).toEqual({
      ok: true,
      value: {
        stream: 'KV_x',
        replicas: 3,
        leader: 'n0',
        followers: [
          { name: 'n1', current: true },
          { name: 'n2', current: false },
        ],
      },
    });
    expect(gateStreamInfo('KV_x', enc({ config: { num_replicas: 1 }, cluster: { leader: '' } }))).toEqual({
      ok: true,
      value: { stream: 'KV_x', replicas: 1, leader: undefined, followers: [] },
    });
  });

  it('placement rules - garbage, an API error or a bad replica count is refused with the reason, never thrown', () => {
    expect(gateStreamInfo('KV_x', enc('{not json'))).toEqual({ ok: false, reason: 'not JSON' });
    expect(gateStreamInfo('KV_x', enc('[1]'))).toEqual({ ok: false, reason: 'not a JSON object' });
    expect(gateStreamInfo('KV_x', enc({ error: { code: 404, description: 'stream not found' } }))).toEqual({
      ok: false,
      reason: 'stream not found',
    });
    expect(gateStreamInfo('KV_x', enc({ error: 'x' }))).toEqual({
      ok: false,
      reason: 'an error without a description',
    });
    expect(gateStreamInfo('KV_x', enc({ config: { num_replicas: 'three' } }))).toEqual({
      ok: false,
      reason: 'config.num_replicas is not an integer',
    });
    const odd = gateStreamInfo(
      'KV_x',
      enc({ config: { num_replicas: 3 }, cluster: { leader: 7, replicas: [null, 'n1', { name: 5 }, { name: 'n2' }] } }),
    );
    expect(odd).toEqual({
      ok: true,
      value: { stream: 'KV_x', replicas: 3, leader: undefined, followers: [{ name: 'n2', current: false }] },
    });
  });

  it("placement rules - a step-down answer: success, or the server's reason", () => {
    expect(
      gateStepDownAnswer(enc({ type: 'io.nats.jetstream.api.v1.stream_leader_stepdown_response', success: true })),
    ).toEqual({ ok: true, value: true });
    const single = { error: { code: 503, err_code: 10010, description: 'JetStream must be in clustered mode' } };
    expect(gateStepDownAnswer(enc(single))).toEqual({ ok: false, reason: 'JetStream must be in clustered mode' });
    expect(gateStepDownAnswer(enc({}))).toEqual({ ok: false, reason: 'the answer does not say success' });
    expect(gateStepDownAnswer(enc(''))).toEqual({ ok: false, reason: 'not JSON' });
  });

  it("placement rules - --stream-placement: 'away-from-leader' by default, 'off', else refused naming it", () => {
    expect(resolvePulseOptions({}).streamPlacement).toBe('away-from-leader');
    expect(resolvePulseOptions({ streamPlacement: 'off' }).streamPlacement).toBe('off');
    const bad = (): unknown => resolvePulseOptions({ streamPlacement: 'nearest' as 'off' });
    expect(bad).toThrow(InvalidArgumentError);
    expect(bad).toThrow(/stream-placement.*'off' or 'away-from-leader', got 'nearest'/);
  });
});
