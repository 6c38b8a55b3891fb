/**
 * Validators for the three contracts (Ajv, JSON Schema draft 2020-12, strict mode, all
 * errors), compiled once per schema set: a StatusClaim validation costs about a microsecond,
 * so reverb can check every claim it receives. Every error carries a JSON Pointer, the broken
 * rule and a sentence.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SchemaLoadError } from './errors.js';
import type { BarReport, BeatFrame, StatusClaim } from './generated/types.js';
import { toIssues, type ValidationIssue } from './issues.js';
import { barReportIssues } from './semantic.js';

// ajv-formats is CommonJS; under NodeNext its default export may arrive wrapped.
type AddFormats = (ajv: Ajv2020) => void;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

/** The contract type ids (the `type` field of each message). */
export const MESSAGE_TYPES = {
  beatFrame: 'backbeat.beatframe.v1',
  statusClaim: 'backbeat.statusclaim.v1',
  barReport: 'backbeat.barreport.v1',
} as const;

/** One of the contract type ids. */
export type MessageType = (typeof MESSAGE_TYPES)[keyof typeof MESSAGE_TYPES];

/** Message type id -> its TypeScript type. */
export interface MessageOfType {
  'backbeat.beatframe.v1': BeatFrame;
  'backbeat.statusclaim.v1': StatusClaim;
  'backbeat.barreport.v1': BarReport;
}

/** Any contract message. */
export type BackbeatMessage = BeatFrame | StatusClaim | BarReport;

/** Outcome of a validation: the typed value, or every broken rule. */
export type ValidationResult<T> =
  | { readonly valid: true; readonly value: T }
  | { readonly valid: false; readonly errors: readonly ValidationIssue[] };

/**
 * Outcome of {@link validateMessage}: as {@link ValidationResult}, plus the message type
 * (undefined when the message has no known `type`).
 */
export type MessageValidationResult =
  | { readonly valid: true; readonly type: string; readonly value: BackbeatMessage }
  | { readonly valid: false; readonly type: string | undefined; readonly errors: readonly ValidationIssue[] };

/** Absolute path of the schemas shipped with this package (the CLI's default --schemas). */
export const PACKAGED_SCHEMA_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

/** A compiled set of contract schemas: the packaged ones, or a directory given with --schemas. */
export class ContractValidator {
  readonly #byType = new Map<string, ValidateFunction>();
  readonly #types: readonly string[];

  /**
   * Compiles `schemas`; each must name its message type in `properties.type.const`.
   * @throws Error when a schema has no such const, or Ajv refuses it (strict mode)
   */
  constructor(schemas: readonly Record<string, unknown>[]) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    for (const schema of schemas) {
      const type = (schema as { properties?: { type?: { const?: unknown } } }).properties?.type?.const;
      if (typeof type !== 'string') throw new Error('schema has no properties.type.const naming its message type');
      if (this.#byType.has(type)) throw new Error(`two schemas define message type ${type}`);
      this.#byType.set(type, ajv.compile(schema));
    }
    this.#types = [...this.#byType.keys()].sort();
  }

  /** The message types these validators know, sorted. */
  get types(): readonly string[] {
    return this.#types;
  }

  /**
   * Validates `value` as a message of type `type`: its schema, then the rules beyond it.
   * @throws Error when `type` is not one of {@link types} (a programming error)
   */
  validateAs<T extends MessageType>(type: T, value: unknown): ValidationResult<MessageOfType[T]>;
  validateAs(type: string, value: unknown): ValidationResult<unknown>;
  validateAs(type: string, value: unknown): ValidationResult<unknown> {
    const fn = this.#byType.get(type);
    if (!fn) throw new Error(`no schema for message type ${type}; known types: ${this.#types.join(', ')}`);
    if (!fn(value)) return { valid: false, errors: toIssues(fn.errors) };
    // BACKBEAT-REQ-005: a BarReport's window must be its downbeat's window.
    const semantic = type === MESSAGE_TYPES.barReport ? barReportIssues(value as BarReport) : [];
    return semantic.length > 0 ? { valid: false, errors: semantic } : { valid: true, value };
  }

  /**
   * Validates a message of any known type, chosen by its `type` field. A missing or unknown
   * type gives one issue at /type that lists the known types. Never throws.
   */
  validate(value: unknown): MessageValidationResult {
    const type = typeIssue(value, this.#types);
    if (typeof type !== 'string') return { valid: false, type: undefined, errors: [type] };
    const r = this.validateAs(type, value);
    return r.valid
      ? { valid: true, type, value: r.value as BackbeatMessage }
      : { valid: false, type, errors: r.errors };
  }
}

/** The message's type when it is a known one, else the issue saying what is wrong. */
export function typeIssue(value: unknown, known: readonly string[]): string | ValidationIssue {
  const list = `known types: ${known.join(', ')}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return {
      path: '',
      rule: 'type',
      message: `message must be a JSON object with a 'type' field, got ${got} (${list})`,
    };
  }
  if (!('type' in value))
    return { path: '/type', rule: 'required', message: `missing required field 'type' (${list})` };
  const type = (value as { type: unknown }).type;
  if (typeof type === 'string' && known.includes(type)) return type;
  return { path: '/type', rule: 'enum', message: `unknown message type ${JSON.stringify(type)}; ${list}` };
}

/**
 * Builds validators from every `*.json` schema file in `dir` (the CLI's --schemas).
 * @throws SchemaLoadError naming the directory (and file) and what went wrong
 */
export function loadSchemas(dir: string): ContractValidator {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : (err as Error).message;
    throw new SchemaLoadError(dir, reason, { cause: err });
  }
  if (files.length === 0) throw new SchemaLoadError(dir, 'no *.json schema files in it');
  const schemas = files.map((f) => {
    try {
      return JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new SchemaLoadError(dir, `${f}: ${(err as Error).message}`, { cause: err });
    }
  });
  try {
    return new ContractValidator(schemas);
  } catch (err) {
    throw new SchemaLoadError(dir, (err as Error).message, { cause: err });
  }
}

let packaged: ContractValidator | undefined;

/**
 * Validators for the packaged schemas, compiled on first use and shared.
 * @throws SchemaLoadError only if the package's own schemas are missing (a broken install)
 */
export function defaultValidator(): ContractValidator {
  packaged ??= loadSchemas(PACKAGED_SCHEMA_DIR);
  return packaged;
}

/** Validates an INT-A BeatFrame. Never throws. */
export function validateBeatFrame(value: unknown): ValidationResult<BeatFrame> {
  return defaultValidator().validateAs(MESSAGE_TYPES.beatFrame, value);
}

/** Validates an INT-B StatusClaim. Never throws. */
export function validateStatusClaim(value: unknown): ValidationResult<StatusClaim> {
  return defaultValidator().validateAs(MESSAGE_TYPES.statusClaim, value);
}

/** Validates an INT-C BarReport: its schema, then the beat-range and window rules. Never throws. */
export function validateBarReport(value: unknown): ValidationResult<BarReport> {
  return defaultValidator().validateAs(MESSAGE_TYPES.barReport, value);
}

/**
 * Validates a message of any contract type, chosen by its `type` field; a missing or unknown
 * type gives one issue listing the known types. Never throws.
 */
export function validateMessage(value: unknown): MessageValidationResult {
  return defaultValidator().validate(value);
}
