import { describe, expect, it } from 'vitest';
import { windowId } from '@backbeat/core';
import {
  SEMANTIC_RULES,
  validateBarReport,
  validateBeatFrame,
  validateMessage,
  validateStatusClaim,
  type ValidationIssue,
} from '@backbeat/contracts';
import { claim } from './fixtures.js';

const frame = {
  type: 'backbeat.beatframe.v1',
  cluster_id: 'prod',
  beat_index: 9,
  downbeat: false,
  phase: 'plan',
  hlc: '7ffd:0001:abcd',
  deadline_at: '2025-09-04T12:00:05Z',
  tempo_bpm: 12,
  window_id: windowId('prod', 8),
};
const report = {
  type: 'backbeat.barreport.v1',
  cluster_id: 'prod',
  window_id: windowId('prod', 8),
  from_beat: 8,
  to_beat: 15,
  agents_reporting: 2,
  on_time_reviews: 1,
  help_promises_fulfilled: 0,
  secret_rotations_ok: true,
  tempo_drift_ms: -0.5,
  issues: [],
};
const errorsOf = (r: { valid: boolean; errors?: readonly ValidationIssue[] }) => (r.valid ? [] : r.errors);

describe('validate - error reports', () => {
  it('validate - reports every broken rule with path, rule and a sentence', () => {
    const { hlc: _hlc, ...noHlc } = claim;
    const errors = errorsOf(validateStatusClaim({ ...noHlc, progress: 2, state: 'done', extra: true }));
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: '/hlc', rule: 'required', message: "missing required field 'hlc'" },
        { path: '/extra', rule: 'additionalProperties', message: "unknown field 'extra' is not allowed" },
        { path: '/progress', rule: 'maximum', message: 'progress must be <= 1' },
        { path: '/state', rule: 'enum', message: expect.stringMatching(/^state must be one of "idle", "planning", /) },
      ]),
    );
    expect(errors).toHaveLength(4);
  });

  it('validate - sentences for numbers, patterns, types, formats and constants', () => {
    const errors = errorsOf(
      validateBeatFrame({
        ...frame,
        tempo_bpm: 1001,
        hlc: '7FFD:1:x',
        downbeat: 'yes',
        deadline_at: 'soon',
        type: 'backbeat.beatframe.v2',
      }),
    );
    expect(errors).toEqual([
      { path: '/type', rule: 'const', message: 'type must be "backbeat.beatframe.v1"' },
      { path: '/downbeat', rule: 'type', message: 'downbeat must be a boolean' },
      {
        path: '/hlc',
        rule: 'pattern',
        message: expect.stringMatching(
          /^hlc must match .* \(three groups of 4 to 16 lower-case hex digits, e.g. 7ffd:0001:abcd\)$/,
        ),
      },
      {
        path: '/deadline_at',
        rule: 'format',
        message: expect.stringMatching(/^deadline_at must be a valid date-time \(RFC 3339/),
      },
      { path: '/tempo_bpm', rule: 'maximum', message: 'tempo_bpm must be <= 1000' },
    ]);
  });

  it('validate - nested fields get JSON Pointers and readable names', () => {
    const errors = errorsOf(
      validateBarReport({
        ...report,
        issues: [{ severity: 'fatal', category: 'x', count: 1, description: '', more: 1 }],
      }),
    );
    expect(errors).toEqual([
      {
        path: '/issues/0/more',
        rule: 'additionalProperties',
        message: "unknown field 'issues[0].more' is not allowed",
      },
      {
        path: '/issues/0/severity',
        rule: 'enum',
        message: 'issues[0].severity must be one of "info", "warning", "error", "critical"',
      },
    ]);
  });

  it('validate - the root of a non-object message has the path ""', () => {
    expect(errorsOf(validateStatusClaim([claim]))).toEqual([
      { path: '', rule: 'type', message: 'message must be an object' },
    ]);
  });

  it('validate - returns the typed value when valid', () => {
    const r = validateBeatFrame(frame);
    expect(r.valid && r.value.tempo_bpm).toBe(12);
  });
});

describe('validate - BarReport rules beyond the schema', () => {
  it('validate - window_id must be the window of from_beat (BACKBEAT-REQ-005)', () => {
    expect(validateBarReport(report).valid).toBe(true);
    expect(errorsOf(validateBarReport({ ...report, window_id: windowId('prod', 0) }))).toEqual([
      {
        path: '/window_id',
        rule: SEMANTIC_RULES.windowIdMatchesFromBeat,
        message: `window_id must be the window of from_beat 8 in cluster 'prod': ${report.window_id}`,
      },
    ]);
  });

  it('validate - to_beat is not before from_beat, and matches bar_length when given', () => {
    expect(errorsOf(validateBarReport({ ...report, to_beat: 7 }))).toEqual([
      { path: '/to_beat', rule: 'to-beat-after-from-beat', message: 'to_beat (7) must not be before from_beat (8)' },
    ]);
    expect(validateBarReport({ ...report, bar_length: 8 }).valid).toBe(true);
    expect(errorsOf(validateBarReport({ ...report, bar_length: 4 }))).toEqual([
      {
        path: '/to_beat',
        rule: 'to-beat-matches-bar-length',
        message: 'to_beat must be from_beat + bar_length - 1 = 11, got 15',
      },
    ]);
  });

  it('validate - semantic rules run only once the schema holds', () => {
    expect(errorsOf(validateBarReport({ ...report, to_beat: 7, agents_reporting: -1 }))!.map((e) => e.rule)).toEqual([
      'minimum',
    ]);
  });
});

describe('validate - validateMessage dispatches on type', () => {
  it('validate - picks the contract from the type field', () => {
    expect(validateMessage(claim)).toMatchObject({ valid: true, type: 'backbeat.statusclaim.v1' });
    expect(validateMessage(frame)).toMatchObject({ valid: true, type: 'backbeat.beatframe.v1' });
    expect(validateMessage({ ...report, to_beat: 1 })).toMatchObject({ valid: false, type: 'backbeat.barreport.v1' });
  });

  it('validate - a missing, unknown or non-string type is one error listing the known types', () => {
    const known = 'known types: backbeat.barreport.v1, backbeat.beatframe.v1, backbeat.statusclaim.v1';
    expect(validateMessage({ agent_id: 'a:b' })).toEqual({
      valid: false,
      type: undefined,
      errors: [{ path: '/type', rule: 'required', message: `missing required field 'type' (${known})` }],
    });
    expect(validateMessage({ type: 'backbeat.beatframe.v2' })).toEqual({
      valid: false,
      type: undefined,
      errors: [{ path: '/type', rule: 'enum', message: `unknown message type "backbeat.beatframe.v2"; ${known}` }],
    });
    expect(errorsOf(validateMessage({ type: 7 }))).toHaveLength(1);
    expect(errorsOf(validateMessage(null))).toEqual([
      { path: '', rule: 'type', message: `message must be a JSON object with a 'type' field, got null (${known})` },
    ]);
  });
});

describe('validate - speed', () => {
  it('validate - checks 50,000 StatusClaims in well under a second (reverb ingests 50,000/s)', () => {
    const claims = Array.from({ length: 1000 }, (_, i) => ({
      ...claim,
      beat_index: i,
      progress: (i % 100) / 100,
      notes: `n${i}`,
    }));
    for (const c of claims) validateStatusClaim(c); // warm up the JIT
    const start = performance.now();
    let ok = 0;
    for (let round = 0; round < 50; round++) for (const c of claims) if (validateStatusClaim(c).valid) ok++;
    const ms = performance.now() - start;
    expect(ok).toBe(50_000);
    expect(ms).toBeLessThan(1000); // typically ~30 ms: about half a microsecond per claim
  });
});
