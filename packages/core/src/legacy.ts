/**
 * The legacy beat position (BACKBEAT-REQ-043): the `{bar, beat}` messages published on
 * `backbeat.C.control`, one per beat, for consumers of the Go era (`LegacyBeatInfo`).
 * Both numbers are 1-based, as in music: beat index 0 is bar 1, beat 1.
 */
import { InvalidArgumentError } from './errors.js';

/** Legacy beat position, 1-based. */
export interface LegacyBeat {
  /** Bar number, from 1: floor(beatIndex / barLength) + 1. */
  readonly bar: number;
  /** Beat within the bar, from 1 to the bar length: beatIndex % barLength + 1. */
  readonly beat: number;
}

function checkBarLength(barLength: number): void {
  if (!Number.isSafeInteger(barLength) || barLength < 1) {
    throw new InvalidArgumentError('barLength', `must be an integer >= 1, got ${barLength}`);
  }
}

/**
 * Beat index -> legacy `{bar, beat}` (BACKBEAT-REQ-043). toLegacy(9, 8) is {bar: 2, beat: 2}.
 * @throws InvalidArgumentError on a beat that is not an integer >= 0 or a bar length < 1
 */
export function toLegacy(beatIndex: number, barLength: number): LegacyBeat {
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0) {
    throw new InvalidArgumentError('beatIndex', `must be an integer >= 0, got ${beatIndex}`);
  }
  checkBarLength(barLength);
  const beat = beatIndex % barLength;
  return { bar: (beatIndex - beat) / barLength + 1, beat: beat + 1 };
}

/**
 * Legacy `{bar, beat}` (1-based) -> beat index (BACKBEAT-REQ-043); the inverse of toLegacy.
 * @throws InvalidArgumentError on a bar < 1, a beat outside 1..barLength or a bar length < 1
 */
export function fromLegacy(legacy: LegacyBeat, barLength: number): number {
  checkBarLength(barLength);
  const { bar, beat } = legacy;
  if (!Number.isSafeInteger(bar) || bar < 1)
    throw new InvalidArgumentError('bar', `must be an integer >= 1, got ${bar}`);
  if (!Number.isSafeInteger(beat) || beat < 1 || beat > barLength) {
    throw new InvalidArgumentError('beat', `must be an integer from 1 to ${barLength}, got ${beat}`);
  }
  const index = (bar - 1) * barLength + (beat - 1);
  if (!Number.isSafeInteger(index))
    throw new InvalidArgumentError('bar', `is too large for bars of ${barLength} beats, got ${bar}`);
  return index;
}
