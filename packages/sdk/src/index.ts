/**
 * @backbeat/sdk: follow the cluster's beat, report status, bound work by beats.
 *
 * ```ts
 * const client = createClient({ clusterId: 'chorus-aus-01', agentId: 'agent:worker-1', nats: 'nats://127.0.0.1:4222' });
 * client.onBeat((frame, { source }) => console.log(frame.beat_index, source));
 * await client.start();
 * await client.emitStatusClaim({ state: 'executing', progress: 0.5 });
 * await client.withBeatBudget(4, (signal) => doWork(signal));
 * await client.stop();
 * ```
 */
export { createClient, Client } from './client.js';
export type { ClaimInput, ClientHealth, ClientState } from './client.js';
export type { BeatCallback, BeatInfo, BeatSource, FollowerOptions, Timing } from './follower.js';
export { BeatFollower } from './follower.js';
export { FrameGate, GRID_TOLERANCE_MS, HOLD_MS, onGrid } from './frame-gate.js';
export type { AcceptedFrame, DropReason, FrameGateOptions, GateListener, IncomingFrame, LeaseView, MapSource } from './frame-gate.js';
export { ClockOffsetEstimator } from './clock-offset.js';
export { PREPARE_LEAD_MS, SETTLE_DELAY_MS, SlotTimer, sharedSlotTimer } from './slot-timer.js';
export { ClaimSender, DEFAULT_NO_STREAM_GRACE_MS, permanentCause, PERMANENT_ATTEMPTS } from './claims.js';
export { SdkMetrics } from './metrics.js';
export type { SdkMetricsSnapshot } from './metrics.js';
export { resolveClientOptions, assertAgentId } from './options.js';
export type { ClientOptions, ResolvedClientOptions } from './options.js';
export { BeatBudgetExceededError, ClaimInvalidError, ClaimQueueFullError, ClaimRejectedError, ClaimTooLargeError, ClientStoppedError, NoBeatError, SDK_ERROR_CODES } from './errors.js';
export type { ClaimFailure } from './errors.js';
export { toSigningKey, signPayload, publicKeyBase64 } from './signing.js';
export { hintIfSilent, noBeatHint, SILENCE_HINT_MS } from './silence.js';
