import { BackbeatError } from '@backbeat/core';
import type { ValidationIssue } from './issues.js';

/** Error codes defined by the contracts package. */
export const CONTRACTS_ERROR_CODES = {
  BB_ERR_CONTRACT_INVALID: 'a message breaks its contract (INT-A, INT-B or INT-C)',
  BB_ERR_MALFORMED_JSON: 'a message is not well-formed JSON',
  BB_ERR_UNKNOWN_TYPE: 'a message has no type, or a type that is not one of the contracts',
  BB_ERR_SCHEMA_LOAD: 'a schema directory could not be read or compiled',
} as const;

/** A message breaks its contract; `context.errors` lists every broken rule. */
export class ContractError extends BackbeatError<{ type?: string; errors: readonly ValidationIssue[] }> {
  constructor(type: string | undefined, errors: readonly ValidationIssue[]) {
    const first = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    super('BB_ERR_CONTRACT_INVALID', `${type ?? 'message'} is invalid: ${first ? first.message : 'unknown reason'}${more}`, { type, errors });
  }
}

/** The bytes are not well-formed JSON; line and column are 1-based. */
export class MalformedJsonError extends BackbeatError<{ line: number; column: number }> {
  constructor(reason: string, line: number, column: number) {
    super('BB_ERR_MALFORMED_JSON', `malformed JSON at line ${line}, column ${column}: ${reason}`, { line, column });
  }
}

/** The message has no `type`, or one that is not a contract. */
export class UnknownTypeError extends BackbeatError<{ type: unknown; known: readonly string[] }> {
  constructor(type: unknown, known: readonly string[]) {
    const what = type === undefined ? "has no 'type' field" : `has unknown type ${JSON.stringify(type)}`;
    super('BB_ERR_UNKNOWN_TYPE', `message ${what}; known types: ${known.join(', ')}`, { type, known });
  }
}

/** A schema directory could not be loaded. */
export class SchemaLoadError extends BackbeatError<{ dir: string }> {
  constructor(dir: string, reason: string, options?: { cause?: unknown }) {
    super('BB_ERR_SCHEMA_LOAD', `cannot load schemas from ${dir}: ${reason}`, { dir }, options);
  }
}
