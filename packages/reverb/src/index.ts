/**
 * @backbeat/reverb: folds each bar's status claims into a BarReport (BACKBEAT-REQ-020..022).
 *
 * ```ts
 * const reverb = new Reverb({ bus, clusterId: 'chorus-aus-01', signatures: 'require', trust: TrustStore.load('trust.json') });
 * await reverb.start();
 * await buildReverbApp(reverb).listen({ host: '127.0.0.1', port: 8090 });
 * ```
 */
export { Reverb } from './reverb.js';
export type { ReverbState } from './reverb.js';
export { resolveReverbOptions, SIGNATURE_MODES } from './options.js';
export type { ReverbOptions, ResolvedReverbOptions, SignatureMode } from './options.js';
export { TrustStore } from './trust.js';
export type { SignatureCheck } from './trust.js';
export { checkClaim } from './ingest.js';
export type { Verdict, IngestContext } from './ingest.js';
export { WindowAggregation, ISSUE_KINDS } from './window.js';
export type { IssueKind } from './window.js';
export { createReverbMetrics } from './metrics.js';
export type { ReverbMetrics } from './metrics.js';
export { buildReverbApp } from './http.js';
export { TrustFileError, REVERB_ERROR_CODES } from './errors.js';
