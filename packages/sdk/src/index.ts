/**
 * @backbeat/sdk: follow the cluster's beat, report status, bound work by beats. The public API
 * only; what the package's own tests need from inside is in `@backbeat/sdk/internal`.
 *
 * ```ts
 * const nats = 'nats://127.0.0.1:4222';
 * const client = createClient({ clusterId: 'chorus-aus-01', agentId: 'agent:worker-1', nats });
 * client.onBeat((frame, { source }) => console.log(frame.beat_index, source));
 * await client.start();
 * await client.emitStatusClaim({ state: 'executing', progress: 0.5 });
 * await client.withBeatBudget(4, (signal) => doWork(signal));
 * await client.stop();
 * ```
 */
export { createClient, Client } from './client.js';
export type { ClaimInput, ClientHealth, ClientState } from './client.js';
export type { BeatCallback, BeatInfo, BeatSource, DropReason, Timing } from './follow/beat-types.js';
export type { LeaseView, MapSource } from './follow/gate-types.js';
export type { SdkMetricsSnapshot } from './metrics.js';
export type { ClientOptions, ResolvedClientOptions } from './options.js';
export {
  BeatBudgetExceededError,
  ClaimInvalidError,
  ClaimQueueFullError,
  ClaimRejectedError,
  ClaimTooLargeError,
  ClientStoppedError,
  NoBeatError,
  SDK_ERROR_CODES,
} from './errors.js';
export type { ClaimFailure } from './errors.js';
export { toSigningKey, signPayload, publicKeyBase64 } from './claims/signing.js';
export { hintIfSilent } from './silence.js';
