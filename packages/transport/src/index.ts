/**
 * @backbeat/transport: the bus seam. Services are handed a {@link Bus}: {@link NatsBus} on a
 * real nats-server, {@link MemoryBus} in-process (`backbeat dev`, unit tests). Both pass one
 * conformance suite, so what runs on one runs unchanged on the other.
 *
 * ```ts
 * const bus = await NatsBus.connect({ servers: 'nats://127.0.0.1:4222' }); // or new MemoryBus()
 * const { beat, status } = subjects('chorus-aus-01');
 * bus.subscribe(beat, (msg) => console.log(msg.headers['Backbeat-Term'], msg.data));
 * const lease = await bus.kv(clusterNames('chorus-aus-01').leaseBucket, { ttlMs: 2000 });
 * const rev = await lease.create('leader', encodeJson({ node: 'pulse-1' })); // KvConflictError if held
 * await bus.publishDurable(status, claimBytes, { msgId: 'agent:a1/42' });   // de-duplicated retry
 * ```
 */
export type {
  Bus,
  BusEvent,
  BusMsg,
  BusStatus,
  Headers,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './bus.js';
export { MSG_ID_HEADER } from './bus.js';
export type { KvBucket, KvBucketOptions, KvBucketSettings, KvEntry, KvWatchEvent } from './kv-types.js';
export type {
  Consumer,
  ConsumeOptions,
  DurableMsg,
  DurablePublishOptions,
  DurablePublishResult,
  ConsumerState,
  ReadStreamOptions,
  ResolvedStreamConfig,
  StoredMsg,
  StreamConfig,
  StreamMsgQuery,
  StreamRepublish,
  StreamState,
} from './stream-types.js';
export { REPUBLISH_HEADERS } from './stream-types.js';
export { NatsBus } from './nats-bus.js';
export { natsConnectOptions } from './nats-options.js';
export { lastMsgFirstAnswer } from './nats-last-msg.js';
export type { NatsConfig } from './nats-options.js';
export { MemoryBus } from './memory-bus.js';
export type { MemoryBusOptions } from './memory-bus.js';
export { MemoryBroker } from './memory-broker.js';
export { subjects, clusterNames, assertClusterId } from './subjects.js';
export type { ClusterSubjects, ClusterNames } from './subjects.js';
export {
  KvConflictError,
  NotConnectedError,
  TimeoutError,
  NoRespondersError,
  InvalidSubjectError,
  JetStreamNotFoundError,
  TransportError,
  ReplicaMismatchError,
  ServerVersionError,
  StreamRefusedError,
  RepublishUnchangeableError,
  TRANSPORT_ERROR_CODES,
} from './errors.js';
export type { TransportErrorCode } from './errors.js';
export type { LeaseRecord } from './cluster-state.js';
export type { LeaseBucketOptions } from './cluster-state.js';
export {
  LeaseRecordError,
  decodeLeaseRecord,
  STATE_KEYS,
  encodeJson,
  decodeJson,
  openStateBucket,
  openLeaseBucket,
  readTempoMap,
  statusStreamConfig,
  CLAIM_MAX_BYTES,
  CLAIM_STREAM_MAX_BYTES,
  CLAIM_HEADER_ALLOWANCE,
  reportStreamConfig,
  dlqStreamConfig,
} from './cluster-state.js';
export type { ReplicaOptions, ReplicaSetting } from './replicas.js';
export { checkReplicaSetting, ensureStreamReplicated, parseReplicaSetting, resolveReplicas } from './replicas.js';
export type { Presence, PresenceKind, PresenceOptions, PresenceRecord } from './presence.js';
export { openPresenceBucket, readPresence, startPresence } from './presence.js';
export type { RetryOptions } from './retry.js';
export { retryTransient } from './retry.js';
export { assertServerVersion, compareServerVersions } from './server-version.js';
