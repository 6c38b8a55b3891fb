import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackbeatError } from '@backbeat/core';
import {
  CONTRACTS_ERROR_CODES,
  ContractError,
  MalformedJsonError,
  UnknownTypeError,
  parseBarReport,
  parseBeatFrame,
  parseJson,
  parseMessage,
  parseStatusClaim,
} from '@backbeat/contracts';
import { findJsonSyntaxError } from '../src/json-position.js';
import { claim } from './fixtures.js';

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('parse - messages from bytes', () => {
  it('parse - a typed message from bytes or a string', () => {
    const r = parseStatusClaim(bytes(claim));
    expect(r).toEqual({ ok: true, type: 'backbeat.statusclaim.v1', message: claim });
    expect(parseMessage(JSON.stringify(claim))).toMatchObject({ ok: true, type: 'backbeat.statusclaim.v1' });
    expect(parseStatusClaim(`\uFEFF${JSON.stringify(claim)}`).ok).toBe(true);
  });

  it('parse - a typed parser refuses another message type with a const error', () => {
    const r = parseBeatFrame(bytes(claim));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(ContractError);
    expect(r.error.code).toBe('BB_ERR_CONTRACT_INVALID');
    expect(r.error.context.errors).toContainEqual({
      path: '/type',
      rule: 'const',
      message: 'type must be "backbeat.beatframe.v1"',
    });
  });

  it('parse - contract violations are ContractErrors listing every issue', () => {
    const r = parseBarReport('{"type":"backbeat.barreport.v1"}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(BackbeatError);
    expect(r.error.context.type).toBe('backbeat.barreport.v1');
    expect(r.error.context.errors.length).toBe(10);
    expect(r.error.message).toBe("backbeat.barreport.v1 is invalid: missing required field 'cluster_id' (and 9 more)");
  });

  it('parse - malformed JSON gives line and column', () => {
    const r = parseMessage('{\n  "type": "backbeat.statusclaim.v1",\n  "agent_id": agent\n}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(MalformedJsonError);
    expect(r.error.code).toBe('BB_ERR_MALFORMED_JSON');
    expect(r.error.context).toMatchObject({ line: 3, column: 15 });
    expect(r.error.message).toBe('malformed JSON at line 3, column 15: unexpected "a"');
    expect(() => parseJson('[1,]')).toThrow(/line 1, column 4/);
  });

  it('parse - an unknown or missing type is an UnknownTypeError listing the known types', () => {
    const r = parseMessage('{"type": "backbeat.other.v1"}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(UnknownTypeError);
    expect(r.error).toBeInstanceOf(ContractError);
    expect(r.error.code).toBe('BB_ERR_UNKNOWN_TYPE');
    expect(r.error.message).toMatch(
      /known types: backbeat.barreport.v1, backbeat.beatframe.v1, backbeat.statusclaim.v1$/,
    );
    expect(r.error.context).toMatchObject({ received: 'backbeat.other.v1' });
    const none = parseMessage('[1, 2]');
    expect(!none.ok && none.error.message).toMatch(/must be a JSON object with a 'type' field, got an array/);
  });

  it('parse - never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array()), (input) => {
        const r = parseMessage(input);
        expect(r.ok).toBe(false);
        expect(r.ok ? '' : r.error.code).toMatch(/^BB_ERR_/);
      }),
      { numRuns: 300 },
    );
  });

  it('errors - every code is registered and described', () => {
    for (const code of [
      'BB_ERR_CONTRACT_INVALID',
      'BB_ERR_MALFORMED_JSON',
      'BB_ERR_UNKNOWN_TYPE',
      'BB_ERR_SCHEMA_LOAD',
      'BB_ERR_VALIDATE_INPUT',
    ]) {
      expect(CONTRACTS_ERROR_CODES).toHaveProperty(code, expect.stringMatching(/^.{15,}$/));
    }
    expect(Object.keys(CONTRACTS_ERROR_CODES)).toHaveLength(5);
  });
});

describe('parse - JSON syntax positions', () => {
  it('json-position - agrees with JSON.parse on whether a text is well-formed', () => {
    const mutated = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', 'x', ' ', '\n'))
      .map(([text, at, c]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return text.slice(0, i) + c + text.slice(i + (at % 2));
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), mutated), (text) => {
        let parses = true;
        try {
          JSON.parse(text);
        } catch {
          parses = false;
        }
        expect(findJsonSyntaxError(text) === null).toBe(parses);
      }),
      { numRuns: 1000 },
    );
  });

  it('json-position - points at the offending character, 1-based', () => {
    expect(findJsonSyntaxError('{"a": 1,\n "b" 2}')).toMatchObject({
      line: 2,
      column: 6,
      reason: 'expected \':\', unexpected "2"',
    });
    expect(findJsonSyntaxError('{"a": [1, 2')).toMatchObject({
      line: 1,
      column: 12,
      reason: "expected ',' or ']', unexpected end of input",
    });
    expect(findJsonSyntaxError('{} {}')).toMatchObject({ line: 1, column: 4 });
  });
});
