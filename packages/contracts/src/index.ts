/**
 * @backbeat/contracts: the three BACKBEAT message contracts (INT-A BeatFrame, INT-B
 * StatusClaim, INT-C BarReport) as JSON Schemas, generated types, validators and the
 * backbeat-validate CLI.
 *
 * ```ts
 * const r = parseStatusClaim(msg.data);
 * if (r.ok) aggregate(r.message);
 * else dlq(r.error.message); // names the field and the rule
 * ```
 */
export type { BeatFrame, StatusClaim, BarReport } from './generated/types.js';
export { CLAIM_STATES, SEVERITIES, PHASES, LEGACY_STATE_ALIASES } from './enums.js';
export type { ClaimState, Severity, Phase } from './enums.js';
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
export type { MessageType, MessageOfType, BackbeatMessage, ValidationResult } from './validate.js';
export type { ValidationIssue } from './issues.js';
export { parseJson, parseMessage, parseBeatFrame, parseStatusClaim, parseBarReport } from './parse.js';
export type { ParseResult } from './parse.js';
export { ContractError, MalformedJsonError, UnknownTypeError, SchemaLoadError, CONTRACTS_ERROR_CODES } from './errors.js';
export { runValidateCli } from './cli.js';
export type { CliIo, ValidateCliResult } from './cli.js';
