/**
 * `@backbeat/reverb/internal`: what tests and benchmarks reach inside the package for. Not a
 * public API: it may change with any release.
 */
export { step } from './ledger/step.js';
export { createLedger, nextDue, catchUpTarget, barLengthOf, isReported } from './ledger/state.js';
export type { LedgerConfig, LedgerState, InFlight } from './ledger/state.js';
export type { ClaimEvent, LedgerEvent, LedgerEffect, StepResult } from './ledger/events.js';
export { countClaim, MAX_HLC_AHEAD_MS } from './ledger/claims.js';
export { HandledSeqs } from './ledger/handled-seqs.js';
export { HandledWaiters } from './handled-waiters.js';
export { WindowStore } from './ledger/window-store.js';
export { compareHlcText } from './ledger/hlc-text.js';
export { planRecovery } from './ledger/recovery-plan.js';
export type { RecoveryPlan, RecoveryInput } from './ledger/recovery-plan.js';
export { reportTiming } from './ledger/report-timing.js';
export { ClaimPipeline, type ClaimPipelineHooks } from './claim-pipeline.js';
export { ClaimStreamReader, pageLimitFor, DEFAULT_READ_BYTES, MAX_PAGE, type ReadStart } from './claim-stream.js';
export { claimCutOf, storeReport, broadcastReport } from './publish.js';
export { REBUILD_GRACE_MS } from './rebuild.js';
