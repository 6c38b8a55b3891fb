/**
 * @backbeat/reverb: folds each bar's status claims into a BarReport (BACKBEAT-REQ-020..022).
 * The public API; what tests and benchmarks need from inside is `@backbeat/reverb/internal`.
 *
 * ```ts
 * const trust = TrustStore.load('trust.json');
 * const reverb = new Reverb({ bus, clusterId: 'chorus-aus-01', nodeId: 'r1', signatures: 'require', trust });
 * await reverb.start();
 * await buildReverbApp(reverb, { adminToken }).listen({ host: '127.0.0.1', port: 8090 });
 * ```
 */
export { Reverb } from './reverb.js';
export type { ReverbState, ClaimSource, IngestOutcome } from './reverb.js';
export {
  resolveReverbOptions,
  defaultReverbNodeId,
  SIGNATURE_MODES,
  DEFAULT_CLUSTER_ID,
  DEFAULT_BAR_LENGTH,
} from './options.js';
export type { ReverbOptions, ResolvedReverbOptions, SignatureMode } from './options.js';
export { TrustStore } from './trust.js';
export type { SignatureCheck } from './trust.js';
export { watchTrustFile, type TrustWatch, type TrustWatchHooks } from './trust-watch.js';
export { VerifyPool } from './verify-pool.js';
export { ED25519_BACKEND, verifyEd25519, publicKeyFromRaw } from './ed25519.js';
export type { PublicKey } from './ed25519.js';
export { checkClaim } from './ledger/check-claim.js';
export type { Verdict, IngestContext } from './ledger/check-claim.js';
export { WindowAggregation } from './ledger/window.js';
export { ISSUE_KINDS, ROTATION_PROBLEMS, issueText } from './ledger/issue-kinds.js';
export type { IssueKind } from './ledger/issue-kinds.js';
export { readReports, decodeStoredReport } from './history.js';
export type { ReportPage, ReportQuery } from './history.js';
export {
  consumerName,
  classifyConsumers,
  listReverbConsumers,
  pruneReverbConsumers,
  CONSUMER_PREFIX,
} from './consumers.js';
export type { ReverbConsumer } from './consumers.js';
export { createReverbMetrics } from './metrics.js';
export type { ReverbMetrics } from './metrics.js';
export { buildReverbApp } from './http.js';
export type { ReverbAppOptions } from './http.js';
export { assertBindable } from './admin-auth.js';
export { TrustFileError, REVERB_ERROR_CODES } from './errors.js';
