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
export type { BeatCallback, ClaimInput, ClientHealth, ClientState } from './client.js';
export type { BeatInfo, BeatSource, DropReason } from './follower.js';
export { BeatFollower } from './follower.js';
export { resolveClientOptions, assertAgentId } from './options.js';
export type { ClientOptions, ResolvedClientOptions } from './options.js';
export { BeatBudgetExceededError, ClaimInvalidError, ClaimQueueFullError, ClientStoppedError, NoBeatError, SDK_ERROR_CODES } from './errors.js';
export { toSigningKey, signPayload, publicKeyBase64 } from './signing.js';
export type { SdkMetricsSnapshot } from './metrics.js';
