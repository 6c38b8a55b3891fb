import { UsageError } from './errors.js';

export { UsageError, CLI_ERROR_CODES } from './errors.js';

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
