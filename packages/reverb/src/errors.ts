import { BackbeatError } from '@backbeat/core';

/** Error codes defined by reverb. */
export const REVERB_ERROR_CODES = {
  BB_ERR_TRUST_FILE: 'the trust file cannot be read or breaks its format',
} as const;

/** The trust file cannot be used; the previous one stays in force on a reload. */
export class TrustFileError extends BackbeatError<{ file: string }> {
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super('BB_ERR_TRUST_FILE', `trust file ${file}: ${reason}`, { file }, options);
  }
}
