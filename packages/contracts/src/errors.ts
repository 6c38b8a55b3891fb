/**
 * The contracts package's errors. Every way a message can fail to be a contract message is a
 * {@link ContractError} carrying the broken rules, so a consumer (reverb's dead-letter path,
 * the SDK) can branch on `code` and print `context.errors` without parsing text.
 */
import { BackbeatError } from '@backbeat/core';
import type { ValidationIssue } from './issues.js';

/** Error codes defined by the contracts package, each with what it means. */
export const CONTRACTS_ERROR_CODES = {
  BB_ERR_CONTRACT_INVALID: 'a message breaks its contract (INT-A BeatFrame, INT-B StatusClaim or INT-C BarReport)',
  BB_ERR_MALFORMED_JSON: 'a message is not well-formed JSON',
  BB_ERR_UNKNOWN_TYPE: 'a message has no type field, or a type that is not one of the contracts',
  BB_ERR_SCHEMA_LOAD: 'a schema directory could not be read or compiled',
  BB_ERR_VALIDATE_INPUT: 'backbeat-validate could not read a file or directory it was given',
} as const;

/** One of the contracts package's error codes. */
export type ContractsErrorCode = keyof typeof CONTRACTS_ERROR_CODES;

/** Context of a {@link ContractError}: the message type (when known) and every broken rule. */
export interface ContractErrorContext {
  readonly type?: string;
  readonly errors: readonly ValidationIssue[];
}

/**
 * A message breaks its contract; `context.errors` lists every broken rule. Also the base of
 * {@link MalformedJsonError} and {@link UnknownTypeError}, so `parse*` callers handle one class.
 */
export class ContractError<C extends ContractErrorContext = ContractErrorContext> extends BackbeatError<C> {
  constructor(type: string | undefined, errors: readonly ValidationIssue[]);
  /** For subclasses: their own code, message and context. */
  constructor(code: ContractsErrorCode, message: string, context: C);
  constructor(a: string | undefined, b: readonly ValidationIssue[] | string, c?: C) {
    if (typeof b === 'string') {
      super(a as string, b, c as C);
      return;
    }
    const first = b[0];
    const more = b.length > 1 ? ` (and ${b.length - 1} more)` : '';
    const context = (a === undefined ? { errors: b } : { type: a, errors: b }) as C;
    super(
      'BB_ERR_CONTRACT_INVALID',
      `${a ?? 'message'} is invalid: ${first ? first.message : 'unknown reason'}${more}`,
      context,
    );
  }
}

/** The bytes are not well-formed JSON. `line` and `column` are 1-based. */
export class MalformedJsonError extends ContractError<
  ContractErrorContext & { readonly line: number; readonly column: number }
> {
  constructor(reason: string, line: number, column: number) {
    const message = `malformed JSON at line ${line}, column ${column}: ${reason}`;
    super('BB_ERR_MALFORMED_JSON', message, { line, column, errors: [{ path: '', rule: 'json', message }] });
  }
}

/** The message has no `type`, or one that is not a contract; `context.known` lists the types. */
export class UnknownTypeError extends ContractError<
  ContractErrorContext & { readonly received: unknown; readonly known: readonly string[] }
> {
  constructor(issue: ValidationIssue, received: unknown, known: readonly string[]) {
    super('BB_ERR_UNKNOWN_TYPE', issue.message, { received, known, errors: [issue] });
  }
}

/** A schema directory could not be loaded (missing, empty, unreadable or not compilable). */
export class SchemaLoadError extends BackbeatError<{ readonly dir: string }> {
  constructor(dir: string, reason: string, options?: { cause?: unknown }) {
    super('BB_ERR_SCHEMA_LOAD', `cannot load schemas from ${dir}: ${reason}`, { dir }, options);
  }
}

/** backbeat-validate could not read an input it was given (exit code 2). */
export class ValidateInputError extends BackbeatError<{ readonly path: string }> {
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super('BB_ERR_VALIDATE_INPUT', `cannot read ${path}: ${reason}`, { path }, options);
  }
}
