/**
 * The rule for a replica count, shared by KV buckets and streams on both buses. Its own file
 * (no imports) so the type modules can use it without pulling in a bus.
 */
import { InvalidArgumentError } from '@backbeat/core';

/** Most copies JetStream keeps of a stream or bucket. */
export const MAX_REPLICAS = 5;

/** @throws InvalidArgumentError naming `field` unless `n` is an integer from 1 to {@link MAX_REPLICAS} */
export function assertReplicas(n: number, field = 'replicas'): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS)
    throw new InvalidArgumentError(field, `must be an integer from 1 to ${MAX_REPLICAS}, got ${n}`);
}
