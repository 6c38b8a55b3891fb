/** What a NATS connection knows of its server and cluster, from the server's INFO. */
import type { NatsConnection } from '@nats-io/transport-node';

/** The version of the server the connection is connected to (`2.14.10`). */
export function natsServerVersion(nc: NatsConnection): string | undefined {
  return nc.info?.version;
}

/** True when the server the connection is connected to belongs to a cluster (its INFO names one). */
export function natsClustered(nc: NatsConnection): boolean {
  return typeof nc.info?.cluster === 'string' && nc.info.cluster.length > 0;
}

/**
 * Servers of the cluster the connection sees now: the client URLs the server announces
 * (`connect_urls`, kept current as routes come and go), at least 1. A server started with
 * `no_advertise` announces none: then 1.
 */
export function natsServersSeen(nc: NatsConnection): number {
  if (!natsClustered(nc)) return 1;
  const urls = new Set(nc.info?.connect_urls ?? []);
  return Math.max(1, urls.size);
}
