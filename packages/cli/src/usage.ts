import { BackbeatError } from '@backbeat/core';

/** A flag or argument the user gave breaks its rule: one line on stderr, exit code 2. */
export class UsageError extends BackbeatError<{ flag: string }> {
  constructor(flag: string, rule: string) {
    super('BB_ERR_USAGE', `${flag}: ${rule}`, { flag });
  }
}

/** Error codes defined by the cli package. */
export const CLI_ERROR_CODES = {
  BB_ERR_USAGE: 'a command-line flag or argument breaks its rule',
} as const;

/** Parses an integer flag, or throws a UsageError naming the flag and its range. */
export function intFlag(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(flag, `must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return n;
}

/** Parses a number flag, or throws a UsageError naming the flag and its range. */
export function numberFlag(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(flag, `must be a number from ${min} to ${max}, got '${raw}'`);
  }
  return n;
}
