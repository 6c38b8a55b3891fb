/**
 * Validators for the three contracts (Ajv, JSON Schema draft 2020-12), compiled once. Every
 * error carries its JSON Pointer, the broken rule and a sentence.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { windowId } from '@backbeat/core';
import { SchemaLoadError, UnknownTypeError } from './errors.js';
import type { BarReport, BeatFrame, StatusClaim } from './generated/types.js';
import { toIssues, type ValidationIssue } from './issues.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

/** The contract type ids. */
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

/** Outcome of a validation. */
export type ValidationResult<T> = { readonly valid: true; readonly value: T } | { readonly valid: false; readonly errors: readonly ValidationIssue[] };

/** The directory of the schemas shipped with this package. */
export const PACKAGED_SCHEMA_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

/** Validators for a set of schemas (the packaged ones, or a directory given with --schemas). */
export class ContractValidator {
  readonly #byType = new Map<string, ValidateFunction>();

  /** @param schemas schema documents, each with `properties.type.const` naming its message type */
  constructor(schemas: readonly Record<string, unknown>[]) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
    addFormats(ajv);
    for (const schema of schemas) {
      const type = (schema as { properties?: { type?: { const?: unknown } } }).properties?.type?.const;
      if (typeof type !== 'string') throw new Error("a schema has no properties.type.const naming its message type");
      this.#byType.set(type, ajv.compile(schema));
    }
  }

  /** Message types these validators know. */
  get types(): string[] {
    return [...this.#byType.keys()].sort();
  }

  /** Validates `value` as the message type `type`. */
  validateAs<T extends MessageType>(type: T, value: unknown): ValidationResult<MessageOfType[T]>;
  validateAs(type: string, value: unknown): ValidationResult<unknown>;
  validateAs(type: string, value: unknown): ValidationResult<unknown> {
    const fn = this.#byType.get(type);
    if (!fn) throw new UnknownTypeError(type, this.types);
    if (!fn(value)) return { valid: false, errors: toIssues(fn.errors) };
    const semantic = semanticIssues(type, value);
    return semantic.length > 0 ? { valid: false, errors: semantic } : { valid: true, value };
  }

  /**
   * Validates a message of any known type, chosen by its `type` field.
   * @throws UnknownTypeError when `type` is missing or unknown
   */
  validate(value: unknown): ValidationResult<BackbeatMessage> & { readonly type: string } {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !this.#byType.has(type)) throw new UnknownTypeError(type, this.types);
    return { ...this.validateAs(type, value), type } as ValidationResult<BackbeatMessage> & { type: string };
  }
}

/** Rules beyond what JSON Schema can say. */
function semanticIssues(type: string, value: unknown): ValidationIssue[] {
  if (type !== MESSAGE_TYPES.barReport) return [];
  const r = value as BarReport;
  const out: ValidationIssue[] = [];
  if (r.to_beat < r.from_beat) {
    out.push({ path: '/to_beat', rule: 'to-beat-after-from-beat', message: `to_beat (${r.to_beat}) must not be before from_beat (${r.from_beat})` });
  }
  const expected = windowId(r.cluster_id, r.from_beat);
  if (r.window_id !== expected) {
    out.push({
      path: '/window_id',
      rule: 'window-id-matches-from-beat',
      message: `window_id must be the window of from_beat ${r.from_beat} in cluster '${r.cluster_id}' (${expected})`,
    });
  }
  return out;
}

/**
 * Builds validators from every *.json schema in `dir`.
 * @throws SchemaLoadError naming the directory and what went wrong
 */
export function loadSchemas(dir: string): ContractValidator {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    throw new SchemaLoadError(dir, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message, { cause: err });
  }
  if (files.length === 0) throw new SchemaLoadError(dir, 'no *.json schema files');
  try {
    return new ContractValidator(files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>));
  } catch (err) {
    throw new SchemaLoadError(dir, (err as Error).message, { cause: err });
  }
}

let packaged: ContractValidator | undefined;

/** Validators for the packaged schemas, compiled on first use. */
export function defaultValidator(): ContractValidator {
  packaged ??= loadSchemas(PACKAGED_SCHEMA_DIR);
  return packaged;
}

/** Validates an INT-A BeatFrame. */
export function validateBeatFrame(value: unknown): ValidationResult<BeatFrame> {
  return defaultValidator().validateAs(MESSAGE_TYPES.beatFrame, value);
}

/** Validates an INT-B StatusClaim. */
export function validateStatusClaim(value: unknown): ValidationResult<StatusClaim> {
  return defaultValidator().validateAs(MESSAGE_TYPES.statusClaim, value);
}

/** Validates an INT-C BarReport (schema plus window and beat-range rules). */
export function validateBarReport(value: unknown): ValidationResult<BarReport> {
  return defaultValidator().validateAs(MESSAGE_TYPES.barReport, value);
}

/**
 * Validates a message of any contract type, chosen by its `type` field.
 * @throws UnknownTypeError for a missing or unknown type
 */
export function validateMessage(value: unknown): ValidationResult<BackbeatMessage> & { readonly type: string } {
  return defaultValidator().validate(value);
}
