/**
 * Replica counts on nats-server: an existing bucket or stream keeps the count it was created
 * with (docs/spec.md §12 Known pitfalls), so a service that asks for another count changes it here,
 * with a stream update, which a JetStream cluster allows (scale up or down; the new peers catch up
 * from the leader). Where the server cannot do it, ReplicaMismatchError says what differs and how to
 * fix it.
 */
import { InvalidArgumentError } from '@backbeat/core';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ReplicaMismatchError } from './errors.js';
import { assertReplicas } from './replica-count.js';

/** What is being replicated: a KV bucket (its stream is `KV_<name>`) or a stream. */
export interface ReplicaTarget {
  readonly kind: 'stream' | 'bucket';
  /** Bucket or stream name as the caller knows it. */
  readonly name: string;
  /** The JetStream stream holding it. */
  readonly stream: string;
}

/**
 * Checks a replica count before anything is created: more than one copy needs a JetStream
 * cluster (nats-server 2.9 refuses `replicas > 1` in non-clustered mode on create, and on
 * update it stores the number without replicating anything, so this check is ours).
 * @throws InvalidArgumentError naming `replicas`
 */
export function assertReplicasPossible(wanted: number, clustered: boolean, target: ReplicaTarget): void {
  assertReplicas(wanted);
  if (wanted > 1 && !clustered) {
    throw new InvalidArgumentError(
      'replicas',
      `${target.kind} '${target.name}': ${wanted} replicas need a JetStream cluster of at least ` +
        `${wanted} servers, and this server is not clustered (use 1, or auto)`,
    );
  }
}

/**
 * Brings an existing stream to `wanted` replicas. Returns the count it had before.
 * @throws ReplicaMismatchError when the server is not clustered or refuses the update
 */
export async function natsReconcileReplicas(
  jsm: JetStreamManager,
  target: ReplicaTarget,
  wanted: number,
  clustered: boolean,
): Promise<number> {
  const info = await jsm.streams.info(target.stream);
  const actual = info.config.num_replicas || 1;
  if (actual === wanted) return actual;
  if (wanted > 1 && !clustered)
    throw new ReplicaMismatchError(
      target.kind,
      target.name,
      actual,
      wanted,
      'the server is not part of a JetStream cluster',
    );
  try {
    await jsm.streams.update(target.stream, { num_replicas: wanted });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ReplicaMismatchError(
      target.kind,
      target.name,
      actual,
      wanted,
      `the server refused the change (${reason})`,
      { cause: err },
    );
  }
  return actual;
}
