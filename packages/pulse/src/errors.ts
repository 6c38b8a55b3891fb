/** The pulse's errors, under core's BackbeatError, each with a stable code (docs/errors.md). */
import { BackbeatError } from '@backbeat/core';

/** Registry of the pulse's error codes, kept in step with docs/errors.md. */
export const PULSE_ERROR_CODES = {
  BB_ERR_LEASE_TTL_MISMATCH: 'the lease bucket has another TTL than --lease-ttl asks for',
} as const;

/**
 * The lease bucket's TTL is not the one asked for. The bucket's TTL is what expires the lease,
 * so a node fencing with another value could publish beside the next leader (docs/spec.md §7
 * Election, terms and fencing): the pulse refuses to start.
 */
export class LeaseTtlMismatchError extends BackbeatError<{
  bucket: string;
  bucketTtlMs: number;
  requestedTtlMs: number;
}> {
  constructor(bucket: string, bucketTtlMs: number, requestedTtlMs: number) {
    super(
      'BB_ERR_LEASE_TTL_MISMATCH',
      `--lease-ttl ${requestedTtlMs} ms differs from the TTL of the lease bucket ${bucket} (${bucketTtlMs} ms): ` +
        `start every pulse with --lease-ttl ${bucketTtlMs}, or stop them all and ` +
        `delete the bucket (nats kv del ${bucket}) to change it`,
      { bucket, bucketTtlMs, requestedTtlMs },
    );
  }
}
