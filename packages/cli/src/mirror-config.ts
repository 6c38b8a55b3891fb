/**
 * The read-only copies agents and observers read (docs/security.md Roles): for each origin
 * bucket or stream of the BACKBEAT account, the VIEW account's mirror of the same name with the
 * origin's limits. Pure: origin settings in, stream configuration out.
 */
import { clusterNames, dlqStreamConfig } from '@backbeat/transport';

/** API prefix under which the VIEW account reaches BACKBEAT's JetStream API (deploy/nats/auth.conf). */
export const ORIGIN_API_PREFIX = '$JS.bb.API';

/** The origins that get a mirror: the lease, state and presence buckets and the dead-letter stream. */
export function mirroredOrigins(clusterId: string): string[] {
  const n = clusterNames(clusterId);
  return [`KV_${n.leaseBucket}`, `KV_${n.stateBucket}`, `KV_${n.presenceBucket}`, dlqStreamConfig(clusterId).name];
}

/** What a mirror copies from its origin's configuration (the subset of nats' StreamConfig it reads). */
export interface OriginSettings {
  max_age: number;
  max_msgs: number;
  max_bytes: number;
  max_msgs_per_subject?: number;
  max_msg_size?: number;
  storage?: string;
  allow_msg_ttl?: boolean;
  /** Limit markers of the origin (nats-server 2.11.7+; the lease bucket has them), ns. */
  subject_delete_marker_ttl?: number;
}

/**
 * The mirror of `origin` in the VIEW account: same name, same limits, deliveries under
 * `backbeat.<cluster>.mirror.<origin>`, direct gets answered by the mirror, nothing deleted or
 * purged by hand.
 *
 * Limit markers (docs/spec.md §10 Security, docs/security.md Roles): the server refuses
 * `subject_delete_marker_ttl` on a mirror (a mirror writing its own markers would diverge from
 * its origin's sequence). The origin's markers are messages of the origin and reach the mirror
 * like any other, so a watcher of the lease mirror sees the lease expire; the mirror takes
 * `allow_msg_ttl` so each marker there is removed after its own TTL, as in the origin.
 */
export function mirrorConfig(
  clusterId: string,
  origin: string,
  settings: OriginSettings,
  replicas: number,
): Record<string, unknown> {
  return {
    name: origin,
    mirror: { name: origin, external: { api: ORIGIN_API_PREFIX, deliver: `backbeat.${clusterId}.mirror.${origin}` } },
    max_age: settings.max_age,
    max_msgs: settings.max_msgs,
    max_bytes: settings.max_bytes,
    max_msgs_per_subject: settings.max_msgs_per_subject ?? -1,
    ...(settings.max_msg_size !== undefined ? { max_msg_size: settings.max_msg_size } : {}),
    ...(settings.storage !== undefined ? { storage: settings.storage } : {}),
    ...(settings.allow_msg_ttl || (settings.subject_delete_marker_ttl ?? 0) > 0 ? { allow_msg_ttl: true } : {}),
    allow_direct: true,
    deny_delete: true,
    deny_purge: true,
    num_replicas: replicas,
  };
}
