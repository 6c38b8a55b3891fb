/**
 * @backbeat/contracts: the three BACKBEAT message contracts (INT-A BeatFrame, INT-B
 * StatusClaim, INT-C BarReport) as JSON Schemas, the TypeScript types generated from them,
 * validators and the backbeat-validate CLI.
 *
 * ```ts
 * import { parseStatusClaim } from '@backbeat/contracts';
 *
 * const r = parseStatusClaim(msg.data);       // Uint8Array or string
 * if (r.ok) aggregate(r.message);             // typed StatusClaim
 * else deadLetter(r.error.code, r.error.message); // e.g. "backbeat.statusclaim.v1 is invalid: progress must be <= 1"
 * ```
 */
export type { BeatFrame, StatusClaim, BarReport, BarIssue, StateCounts, BarPerformance } from './generated/types.js';
export { PHASES, CLAIM_STATES, SEVERITIES, LEGACY_STATE_ALIASES } from './enums.js';
export type { Phase, ClaimState, Severity } from './enums.js';
export {
  MESSAGE_TYPES,
  PACKAGED_SCHEMA_DIR,
  ContractValidator,
  defaultValidator,
  loadSchemas,
  validateBeatFrame,
  validateStatusClaim,
  validateBarReport,
  validateMessage,
} from './validate.js';
export type {
  MessageType,
  MessageOfType,
  BackbeatMessage,
  ValidationResult,
  MessageValidationResult,
} from './validate.js';
export { SEMANTIC_RULES } from './semantic.js';
export type { SemanticRule } from './semantic.js';
export type { ValidationIssue } from './issues.js';
export { TERM_HEADER, buildBeatFrame, encodeTermHeader, parseTermHeader } from './beat-frame.js';
export {
  AGENT_ID_HEADER,
  WINDOW_ID_HEADER,
  HLC_HEADER,
  SIGNATURE_HEADER,
  REASON_HEADER,
  ERROR_HEADER,
  CLAIM_CUT_HEADER,
  REPORT_NODE_HEADER,
} from './headers.js';
export { parseJson, parseMessage, parseBeatFrame, parseStatusClaim, parseBarReport } from './parse.js';
export type { ParseResult } from './parse.js';
export {
  ContractError,
  MalformedJsonError,
  UnknownTypeError,
  SchemaLoadError,
  ValidateInputError,
  CONTRACTS_ERROR_CODES,
} from './errors.js';
export type { ContractsErrorCode, ContractErrorContext } from './errors.js';
export { runValidateCli, VALIDATE_EXIT_CODES } from './cli.js';
export type { CliIo, ValidateCliResult, ValidateCliReport } from './cli.js';
