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

function fieldName(pointer: string): string {
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
      const missing = String(p.missingProperty);
      return { path: `${e.instancePath}/${missing}`, rule: 'required', message: `missing required field '${fieldName(`${e.instancePath}/${missing}`)}'` };
    }
    case 'additionalProperties': {
      const extra = String(p.additionalProperty);
      return { path: `${e.instancePath}/${extra}`, rule: 'additionalProperties', message: `unknown field '${fieldName(`${e.instancePath}/${extra}`)}' is not allowed` };
    }
    case 'const':
      return { path: e.instancePath, rule: 'const', message: `${field} must be ${JSON.stringify(p.allowedValue)}` };
    case 'enum':
      return { path: e.instancePath, rule: 'enum', message: `${field} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'type':
      return { path: e.instancePath, rule: 'type', message: `${field} must be ${article(String(p.type))}` };
    case 'pattern':
      return { path: e.instancePath, rule: 'pattern', message: `${field} must match ${String(p.pattern)}` };
    case 'format':
      return { path: e.instancePath, rule: 'format', message: `${field} must be a valid ${String(p.format)} (RFC 3339, e.g. 2025-09-04T12:00:00Z)` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path: e.instancePath, rule: e.keyword, message: `${field} must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'maxLength':
    case 'minLength':
      return { path: e.instancePath, rule: e.keyword, message: `${field} must have ${e.keyword === 'maxLength' ? 'at most' : 'at least'} ${String(p.limit)} characters` };
    case 'maxItems':
    case 'minItems':
      return { path: e.instancePath, rule: e.keyword, message: `${field} must have ${e.keyword === 'maxItems' ? 'at most' : 'at least'} ${String(p.limit)} items` };
    case 'uniqueItems':
      return { path: e.instancePath, rule: 'uniqueItems', message: `${field} must not repeat items (items ${String(p.j)} and ${String(p.i)} are equal)` };
    case 'propertyNames':
      return { path: e.instancePath, rule: 'propertyNames', message: `${field} has a key that is not allowed: ${JSON.stringify(p.propertyName)}` };
    default:
      return { path: e.instancePath, rule: e.keyword, message: `${field} ${e.message ?? 'is invalid'}` };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Maps Ajv's errors, dropping the noise Ajv adds around propertyNames and enums. */
export function toIssues(errors: readonly ErrorObject[] | null | undefined): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    // propertyNames reports the key's enum failure separately, under the parent path: keep the summary only.
    if (e.keyword === 'enum' && e.propertyName !== undefined) continue;
    const issue = toIssue(e);
    const key = `${issue.path}|${issue.rule}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}
