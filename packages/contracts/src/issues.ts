/**
 * Turns Ajv's errors into issues an operator can read: a JSON Pointer, the rule (the schema
 * keyword) and a sentence naming the field and the rule.
 */
import type { ErrorObject } from 'ajv';

/** One broken rule of a message. */
export interface ValidationIssue {
  /** JSON Pointer of the offending value ('' for the message itself), e.g. /issues/0/severity. */
  readonly path: string;
  /** The broken rule: a schema keyword (required, pattern, maximum, ...) or a semantic rule name. */
  readonly rule: string;
  /** A plain sentence, e.g. "tempo_bpm must be <= 1000". */
  readonly message: string;
}

/** Plain words for the contracts' patterns, appended to a pattern error. */
const PATTERN_HINTS: Readonly<Record<string, string>> = {
  '^[0-9a-f]{4,16}:[0-9a-f]{4,16}:[0-9a-f]{4,16}$':
    'three groups of 4 to 16 lower-case hex digits, e.g. 7ffd:0001:abcd',
  '^[0-9a-f]{32}$': '32 lower-case hex digits',
  '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$': '1 to 64 letters, digits, _ or -, no dots',
  '^[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$': 'two non-empty tokens joined by one colon, e.g. agent:a1',
  '^[a-z][a-z0-9_]*$': 'snake_case starting with a letter',
};

/** Escapes one JSON Pointer token (RFC 6901). */
function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A readable name for the field at a JSON Pointer: /issues/0/severity -> issues[0].severity. */
export function fieldName(pointer: string): string {
  if (pointer === '') return 'message';
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((t, i) => (/^\d+$/.test(t) ? `[${t}]` : i === 0 ? t : `.${t}`))
    .join('');
}

/** Maps one Ajv error to an issue. */
export function toIssue(e: ErrorObject): ValidationIssue {
  const p = e.params as Record<string, unknown>;
  const field = fieldName(e.instancePath);
  switch (e.keyword) {
    case 'required': {
      const at = `${e.instancePath}/${escapeToken(String(p.missingProperty))}`;
      return { path: at, rule: 'required', message: `missing required field '${fieldName(at)}'` };
    }
    case 'additionalProperties': {
      const at = `${e.instancePath}/${escapeToken(String(p.additionalProperty))}`;
      return { path: at, rule: 'additionalProperties', message: `unknown field '${fieldName(at)}' is not allowed` };
    }
    case 'const':
      return { path: e.instancePath, rule: 'const', message: `${field} must be ${JSON.stringify(p.allowedValue)}` };
    case 'enum':
      return {
        path: e.instancePath,
        rule: 'enum',
        message: `${field} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'type':
      return { path: e.instancePath, rule: 'type', message: `${field} must be ${article(String(p.type))}` };
    case 'pattern': {
      const hint = PATTERN_HINTS[String(p.pattern)];
      return {
        path: e.instancePath,
        rule: 'pattern',
        message: `${field} must match ${String(p.pattern)}${hint ? ` (${hint})` : ''}`,
      };
    }
    case 'format':
      return {
        path: e.instancePath,
        rule: 'format',
        message:
          `${field} must be a valid ${String(p.format)}` +
          (p.format === 'date-time' ? ' (RFC 3339, e.g. 2025-09-04T12:00:00Z)' : ''),
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        path: e.instancePath,
        rule: e.keyword,
        message: `${field} must be ${String(p.comparison)} ${String(p.limit)}`,
      };
    case 'maxLength':
    case 'minLength':
      return {
        path: e.instancePath,
        rule: e.keyword,
        message:
          `${field} must have ${e.keyword === 'maxLength' ? 'at most' : 'at least'} ` + plural(p.limit, 'character'),
      };
    case 'maxItems':
    case 'minItems':
      return {
        path: e.instancePath,
        rule: e.keyword,
        message: `${field} must have ${e.keyword === 'maxItems' ? 'at most' : 'at least'} ${plural(p.limit, 'item')}`,
      };
    case 'uniqueItems':
      return {
        path: e.instancePath,
        rule: 'uniqueItems',
        message: `${field} must not repeat items (items ${String(p.j)} and ${String(p.i)} are equal)`,
      };
    default:
      return { path: e.instancePath, rule: e.keyword, message: `${field} ${e.message ?? 'is invalid'}` };
  }
}

function plural(n: unknown, noun: string): string {
  return `${String(n)} ${noun}${n === 1 ? '' : 's'}`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Maps Ajv's errors, one issue per (path, rule). */
export function toIssues(errors: readonly ErrorObject[] | null | undefined): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const issue = toIssue(e);
    const key = `${issue.path}|${issue.rule}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}
