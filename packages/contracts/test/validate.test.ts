import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CLAIM_STATES,
  ContractError,
  MalformedJsonError,
  PHASES,
  SEVERITIES,
  UnknownTypeError,
  parseBarReport,
  parseMessage,
  parseStatusClaim,
  validateBeatFrame,
  validateStatusClaim,
} from '@backbeat/contracts';

const schema = (name: string) => JSON.parse(readFileSync(fileURLToPath(new URL(`../schemas/${name}.schema.json`, import.meta.url)), 'utf8'));
const claim = { type: 'backbeat.statusclaim.v1', agent_id: 'agent:a1', beat_index: 3, state: 'executing', hlc: '7ffd:0001:abcd' };

describe('contracts - enums and generated types', () => {
  it('enums - equal the schema enums', () => {
    expect([...PHASES]).toEqual(schema('backbeat.beatframe.v1').properties.phase.enum);
    expect([...CLAIM_STATES]).toEqual(schema('backbeat.statusclaim.v1').properties.state.enum);
    expect([...SEVERITIES]).toEqual(schema('backbeat.barreport.v1').properties.issues.items.properties.severity.enum);
  });

  it('generated types - match the schemas (regenerating changes nothing)', () => {
    const script = fileURLToPath(new URL('../scripts/generate.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('schemas - strict: every object forbids unknown fields', () => {
    const walk = (s: Record<string, unknown>, at: string): string[] => {
      const here = s.type === 'object' && s.additionalProperties === undefined ? [at] : [];
      const kids = Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>).flatMap(([k, v]) => walk(v, `${at}/${k}`));
      const items = s.items ? walk(s.items as Record<string, unknown>, `${at}/items`) : [];
      return [...here, ...kids, ...items];
    };
    for (const n of ['backbeat.beatframe.v1', 'backbeat.statusclaim.v1', 'backbeat.barreport.v1']) expect(walk(schema(n), n)).toEqual([]);
  });
});

describe('contracts - validation errors', () => {
  it('validate - reports every error with path, rule and a sentence', () => {
    const r = validateStatusClaim({ ...claim, progress: 2, state: 'done', extra: true, hlc: undefined });
    expect(r.valid).toBe(false);
    if (r.valid) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { path: '/hlc', rule: 'required', message: "missing required field 'hlc'" },
        { path: '/extra', rule: 'additionalProperties', message: "unknown field 'extra' is not allowed" },
        { path: '/progress', rule: 'maximum', message: 'progress must be <= 1' },
        expect.objectContaining({ path: '/state', rule: 'enum', message: expect.stringMatching(/^state must be one of "idle"/) }),
      ]),
    );
    expect(r.errors).toHaveLength(4);
  });

  it('validate - names nested fields', () => {
    const r = validateBeatFrame({ type: 'backbeat.beatframe.v1' });
    expect(r.valid).toBe(false);
    expect(!r.valid && r.errors.map((e) => e.path)).toContain('/cluster_id');
  });
});

describe('contracts - parse', () => {
  it('parse - typed message from bytes', () => {
    const r = parseStatusClaim(new TextEncoder().encode(JSON.stringify(claim)));
    expect(r.ok && r.message.agent_id).toBe('agent:a1');
  });

  it('parse - malformed JSON gives line and column', () => {
    const r = parseMessage('{\n  "type": "backbeat.statusclaim.v1",\n  "agent_id": agent\n}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(MalformedJsonError);
    expect((r.error as MalformedJsonError).context).toEqual({ line: 3, column: 15 });
  });

  it('parse - unknown or missing type is a typed error listing the known types', () => {
    const r = parseMessage('{"type": "backbeat.other.v1"}');
    expect(!r.ok && r.error).toBeInstanceOf(UnknownTypeError);
    expect(!r.ok && r.error.message).toMatch(/known types: backbeat.barreport.v1, backbeat.beatframe.v1, backbeat.statusclaim.v1/);
    const none = parseMessage('[1, 2]');
    expect(!none.ok && none.error.message).toMatch(/has no 'type' field/);
  });

  it('parse - contract violations are ContractErrors with every issue', () => {
    const r = parseBarReport('{"type":"backbeat.barreport.v1"}');
    expect(!r.ok && r.error).toBeInstanceOf(ContractError);
    expect(!r.ok && (r.error as ContractError).context.errors.length).toBeGreaterThan(5);
  });

  it('parse - never throws on arbitrary bytes', () => {
    for (const input of ['', 'null', '"x"', '{', '\u0000', '{"type":1}', '[]', '1e999']) {
      expect(() => parseMessage(input)).not.toThrow();
      expect(parseMessage(input).ok).toBe(false);
    }
  });
});
