/**
 * The contracts' enumerations as `as const` arrays with same-named types. A test keeps them
 * equal to the schemas' enums; `satisfies` keeps them inside the generated types.
 */
import type { BarIssue, BeatFrame, StatusClaim } from './generated/types.js';
import { PHASES as CORE_PHASES } from '@backbeat/core';

/** The phases of a beat, in order (INT-A `phase`); the same array as @backbeat/core's. */
export const PHASES = CORE_PHASES satisfies readonly BeatFrame['phase'][];
/** One phase of a beat. */
export type Phase = (typeof PHASES)[number];

/** StatusClaim states (INT-B `state`), in lifecycle order (docs/spec.md §4 The three messages). */
export const CLAIM_STATES = [
  'idle',
  'planning',
  'executing',
  'waiting',
  'reviewing',
  'completed',
  'failed',
  'blocked',
  'helping',
] as const satisfies readonly StatusClaim['state'][];
/** One claim state. */
export type ClaimState = (typeof CLAIM_STATES)[number];

/** BarReport issue severities (INT-C `issues[].severity`), mildest first. */
export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const satisfies readonly BarIssue['severity'][];
/** One issue severity. */
export type Severity = (typeof SEVERITIES)[number];

/**
 * SDK-seed state names the SDK accepts as aliases (with a one-time warning) and never sends
 * on the wire (docs/spec.md §4 The three messages): the contracts themselves reject them.
 */
export const LEGACY_STATE_ALIASES = Object.freeze({ review: 'reviewing', done: 'completed' } as const satisfies Record<
  string,
  ClaimState
>);
