/**
 * The contracts' enumerations as `as const` arrays with same-named types. A test keeps them
 * equal to the schemas' enums.
 */
import type { BarReport, StatusClaim } from './generated/types.js';

export { PHASES, type Phase } from '@backbeat/core';

/** StatusClaim states (INT-B), in lifecycle order. */
export const CLAIM_STATES = ['idle', 'planning', 'executing', 'waiting', 'reviewing', 'completed', 'failed', 'blocked', 'helping'] as const satisfies readonly StatusClaim['state'][];
/** One claim state. */
export type ClaimState = (typeof CLAIM_STATES)[number];

/** Issue severities of a BarReport (INT-C), mildest first. */
export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const satisfies readonly BarReport['issues'][number]['severity'][];
/** One issue severity. */
export type Severity = (typeof SEVERITIES)[number];

/** SDK-seed state names accepted by the SDK as aliases, never sent on the wire (SPEC 9). */
export const LEGACY_STATE_ALIASES = { review: 'reviewing', done: 'completed' } as const satisfies Record<string, ClaimState>;
