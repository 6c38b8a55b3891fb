/**
 * A mistyped cluster id must not wait silently: after `ms` without any beat, one
 * hint naming the subject the client listens on, the cluster id and the NATS servers.
 */
import { subjects } from '@backbeat/transport';
import type { Client } from './client.js';

/** Wait before the hint, ms. */
export const SILENCE_HINT_MS = 5000;

/** The hint for a client that has seen no beat. */
export function noBeatHint(
  client: Client,
  ms = SILENCE_HINT_MS,
  servers = client.options.bus ? 'the shared bus' : String(client.options.nats.servers),
): string {
  const { clusterId } = client.options;
  return (
    `no BeatFrame in ${ms / 1000} s from cluster '${clusterId}': listening on '${subjects(clusterId).beat}' at ` +
    `${servers}. Is a pulse running for this cluster id? Check --cluster (or BACKBEAT_CLUSTER_ID) and --nats.`
  );
}

/**
 * Calls `hint` once when no frame reached `client` within `ms` of this call (nothing when
 * one did). `servers` names the NATS servers when the client uses a shared bus. Returns the
 * cancel function.
 */
export function hintIfSilent(
  client: Client,
  hint: (message: string) => void,
  ms = SILENCE_HINT_MS,
  servers?: string,
): () => void {
  const clock = client.options.clock;
  const t = clock.setTimeout(() => {
    if (client.metrics().framesReceived === 0) hint(noBeatHint(client, ms, servers));
  }, ms);
  return () => clock.clearTimeout(t);
}
