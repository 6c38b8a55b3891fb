/**
 * Bytes in, a typed message or a typed error out. Services call these on every message they
 * receive; none of them throws.
 */
import { ContractError, MalformedJsonError, UnknownTypeError } from './errors.js';
import { findJsonSyntaxError } from './json-position.js';
import { defaultValidator, MESSAGE_TYPES, type BackbeatMessage, type MessageOfType, type MessageType } from './validate.js';

/** Outcome of a parse. */
export type ParseResult<T> =
  | { readonly ok: true; readonly type: string; readonly message: T }
  | { readonly ok: false; readonly error: ContractError | MalformedJsonError | UnknownTypeError };

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Parses JSON text, reporting a syntax error with its line and column.
 * @throws MalformedJsonError
 */
export function parseJson(input: Uint8Array | string): unknown {
  const text = typeof input === 'string' ? input : decoder.decode(input);
  try {
    return JSON.parse(text);
  } catch (err) {
    const where = findJsonSyntaxError(text) ?? { line: 1, column: 1, reason: (err as Error).message };
    throw new MalformedJsonError(where.reason, where.line, where.column);
  }
}

/** Parses and validates a message of any contract type. */
export function parseMessage(input: Uint8Array | string): ParseResult<BackbeatMessage> {
  let value: unknown;
  try {
    value = parseJson(input);
    const r = defaultValidator().validate(value);
    return r.valid ? { ok: true, type: r.type, message: r.value } : { ok: false, error: new ContractError(r.type, r.errors) };
  } catch (err) {
    if (err instanceof MalformedJsonError || err instanceof UnknownTypeError) return { ok: false, error: err };
    throw err;
  }
}

function parseAs<T extends MessageType>(type: T, input: Uint8Array | string): ParseResult<MessageOfType[T]> {
  let value: unknown;
  try {
    value = parseJson(input);
  } catch (err) {
    return { ok: false, error: err as MalformedJsonError };
  }
  const r = defaultValidator().validateAs(type, value);
  return r.valid ? { ok: true, type, message: r.value } : { ok: false, error: new ContractError(type, r.errors) };
}

/** Parses and validates an INT-A BeatFrame. */
export function parseBeatFrame(input: Uint8Array | string): ParseResult<MessageOfType['backbeat.beatframe.v1']> {
  return parseAs(MESSAGE_TYPES.beatFrame, input);
}

/** Parses and validates an INT-B StatusClaim. */
export function parseStatusClaim(input: Uint8Array | string): ParseResult<MessageOfType['backbeat.statusclaim.v1']> {
  return parseAs(MESSAGE_TYPES.statusClaim, input);
}

/** Parses and validates an INT-C BarReport. */
export function parseBarReport(input: Uint8Array | string): ParseResult<MessageOfType['backbeat.barreport.v1']> {
  return parseAs(MESSAGE_TYPES.barReport, input);
}
