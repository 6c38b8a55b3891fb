/**
 * @backbeat/transport/internal: the parts of the transport that are not its public API, for
 * the tests of this and other packages (`import { ... } from '@backbeat/transport/internal'`).
 * Source code imports `@backbeat/transport` only (eslint refuses the subpath there).
 */
export { assertKvKey } from './kv-types.js';
export { resolveStreamConfig, DEFAULT_DUPLICATE_WINDOW_MS, ACK_ALL_BATCH, ACK_ALL_DELAY_MS } from './stream-types.js';
export { DEFAULT_MAX_PAYLOAD } from './memory-broker.js';
export { assertSubject, assertJetStreamName, subjectMatches, subjectsOverlap, CLUSTER_ID_PATTERN } from './subjects.js';
export { AUTO_REPLICAS_MAX, withReplicaFallback } from './replicas.js';
export { MAX_REPLICAS } from './replica-count.js';
export { PRESENCE_EVERY_MS, PRESENCE_TTL_MS, presenceKey } from './presence.js';
export { isTransientError } from './retry.js';
export {
  serverVersionOf,
  serverVersionVerdict,
  supportsLimitMarkers,
  MIN_CLUSTERED_VERSION,
  MIN_MARKER_VERSION,
  MIN_SUPPORTED_VERSION,
} from './server-version.js';
export type { ServerVersionVerdict } from './server-version.js';
