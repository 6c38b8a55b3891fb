/**
 * Bytes in, a typed message or a typed error out. Services call these on every message they
 * receive (NATS payloads are Uint8Array); none of them throws.
 *
 * Every failure is a {@link ContractError}: {@link MalformedJsonError} (with line and column),
 * {@link UnknownTypeError} (parseMessage only) or a plain ContractError listing broken rules.
 */
import { ContractError, MalformedJsonError, UnknownTypeError } from './errors.js';
import { findJsonSyntaxError } from './json-position.js';
import {
  defaultValidator,
  MESSAGE_TYPES,
  typeIssue,
  type BackbeatMessage,
  type MessageOfType,
  type MessageType,
} from './validate.js';

/** Outcome of a parse: the message and its type, or the error saying what is wrong. */
export type ParseResult<T> =
  | { readonly ok: true; readonly type: string; readonly message: T }
  | { readonly ok: false; readonly error: ContractError };

const decoder = new TextDecoder('utf-8');

/**
 * Parses JSON text (UTF-8 bytes or a string; a leading byte-order mark is ignored).
 * @throws MalformedJsonError with the 1-based line and column of the first syntax error
 */
export function parseJson(input: Uint8Array | string): unknown {
  let text = typeof input === 'string' ? input : decoder.decode(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    const where = findJsonSyntaxError(text) ?? { line: 1, column: 1, reason: (err as Error).message };
    throw new MalformedJsonError(where.reason, where.line, where.column);
  }
}

function readJson(input: Uint8Array | string): { value: unknown } | { error: MalformedJsonError } {
  try {
    return { value: parseJson(input) };
  } catch (err) {
    if (err instanceof MalformedJsonError) return { error: err };
    throw err;
  }
}

/** Parses and validates a message of any contract type, chosen by its `type` field. Never throws. */
export function parseMessage(input: Uint8Array | string): ParseResult<BackbeatMessage> {
  const json = readJson(input);
  if ('error' in json) return { ok: false, error: json.error };
  const validator = defaultValidator();
  const type = typeIssue(json.value, validator.types);
  if (typeof type !== 'string') {
    const received =
      typeof json.value === 'object' && json.value !== null ? (json.value as { type?: unknown }).type : undefined;
    return { ok: false, error: new UnknownTypeError(type, received, validator.types) };
  }
  return parseAs(type as MessageType, json.value);
}

function parseAs<T extends MessageType>(type: T, value: unknown): ParseResult<MessageOfType[T]> {
  const r = defaultValidator().validateAs(type, value);
  return r.valid ? { ok: true, type, message: r.value } : { ok: false, error: new ContractError(type, r.errors) };
}

function parseTyped<T extends MessageType>(type: T, input: Uint8Array | string): ParseResult<MessageOfType[T]> {
  const json = readJson(input);
  return 'error' in json ? { ok: false, error: json.error } : parseAs(type, json.value);
}

/** Parses and validates an INT-A BeatFrame. Never throws. */
export function parseBeatFrame(input: Uint8Array | string): ParseResult<MessageOfType['backbeat.beatframe.v1']> {
  return parseTyped(MESSAGE_TYPES.beatFrame, input);
}

/** Parses and validates an INT-B StatusClaim. Never throws. */
export function parseStatusClaim(input: Uint8Array | string): ParseResult<MessageOfType['backbeat.statusclaim.v1']> {
  return parseTyped(MESSAGE_TYPES.statusClaim, input);
}

/** Parses and validates an INT-C BarReport (schema, beat range and window rules). Never throws. */
export function parseBarReport(input: Uint8Array | string): ParseResult<MessageOfType['backbeat.barreport.v1']> {
  return parseTyped(MESSAGE_TYPES.barReport, input);
}
