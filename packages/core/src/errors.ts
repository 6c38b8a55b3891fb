/**
 * One error family for every BACKBEAT package. Each subclass has a stable `code`
 * (`BB_ERR_...`) that is never reused; `docs/errors.md` lists them all and a test keeps the
 * two in step. Context is typed per class so callers can branch on it without parsing text.
 */

/** Base of every error BACKBEAT throws across an API boundary. */
export class BackbeatError<C extends object = Record<string, unknown>> extends Error {
  /** Stable machine-readable code, `BB_ERR_...`. */
  readonly code: string;
  /** Structured detail about what failed. */
  readonly context: C;

  constructor(code: string, message: string, context: C, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

/** Registry of every error code, kept in step with docs/errors.md by a test. */
export const ERROR_CODES = {
  BB_ERR_INVALID_ARGUMENT: 'a value given to an API or flag breaks its rule',
  BB_ERR_TEMPO_OUT_OF_RANGE: 'a tempo change outside [min_bpm, max_bpm] (REQ-004)',
  BB_ERR_TEMPO_DELTA_TOO_LARGE: 'a tempo change of more than 10% of the current tempo (REQ-004)',
  BB_ERR_TEMPO_CHANGE_PENDING: 'a tempo change while another one waits for its downbeat (REQ-004)',
} as const;

/** One of the registered error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** A value given to an API, an option or a flag breaks its rule. */
export class InvalidArgumentError extends BackbeatError<{ field: string; rule: string }> {
  constructor(field: string, rule: string, options?: { cause?: unknown }) {
    super('BB_ERR_INVALID_ARGUMENT', `${field}: ${rule}`, { field, rule }, options);
  }
}
