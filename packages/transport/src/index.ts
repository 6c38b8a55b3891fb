/**
 * @backbeat/transport: the bus seam. Services are handed a Bus: NatsBus on a real
 * nats-server, MemoryBus in-process (`backbeat dev`, unit tests). Both pass one conformance
 * suite.
 *
 * ```ts
 * const bus = await NatsBus.connect({ servers: 'nats://127.0.0.1:4222' });
 * const { beat } = subjects('chorus-aus-01');
 * bus.subscribe(beat, (msg) => console.log(msg.headers['Backbeat-Term'], msg.data));
 * ```
 */
export type {
  Bus,
  BusEvent,
  BusMsg,
  BusStatus,
  Consumer,
  ConsumeOptions,
  DurableMsg,
  DurablePublishOptions,
  DurablePublishResult,
  Headers,
  KvBucket,
  KvBucketOptions,
  KvEntry,
  KvWatchEvent,
  ReadStreamOptions,
  RequestOptions,
  StoredMsg,
  StreamConfig,
  SubscribeOptions,
  Subscription,
} from './bus.js';
export { MSG_ID_HEADER } from './bus.js';
export { NatsBus } from './nats-bus.js';
export { natsConnectOptions } from './nats-options.js';
export type { NatsConfig } from './nats-options.js';
export { MemoryBus, DEFAULT_MAX_PAYLOAD } from './memory-bus.js';
export { subjects, clusterNames, assertClusterId, assertSubject, subjectMatches, CLUSTER_ID_PATTERN } from './subjects.js';
export type { ClusterSubjects, ClusterNames } from './subjects.js';
export {
  KvConflictError,
  NotConnectedError,
  TimeoutError,
  NoRespondersError,
  InvalidSubjectError,
  TransportError,
  TRANSPORT_ERROR_CODES,
} from './errors.js';
export { STATE_KEYS, encodeJson, decodeJson, openStateBucket, readTempoMap, statusStreamConfig, reportStreamConfig } from './cluster-state.js';
