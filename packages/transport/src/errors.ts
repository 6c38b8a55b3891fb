/**
 * Errors of the transport package. Both bus implementations throw these same classes for the
 * same situations, so callers branch on `code` (or `instanceof`) without knowing which bus
 * they were handed.
 */
import { BackbeatError } from '@backbeat/core';

/** Error codes defined by the transport package, each with what it means. */
export const TRANSPORT_ERROR_CODES = {
  BB_ERR_KV_CONFLICT: 'a KV create found a live value, or an update or delete named a revision that is not the last',
  BB_ERR_NOT_CONNECTED: 'the bus is closed',
  BB_ERR_TIMEOUT: 'a request, acknowledgement or JetStream call did not complete in time',
  BB_ERR_NO_RESPONDERS: 'nobody listens on the subject of a request, or no stream captures a durable publish',
  BB_ERR_INVALID_SUBJECT: 'a subject, KV key, bucket or stream name breaks the NATS naming rules',
  BB_ERR_JETSTREAM_NOT_FOUND: 'a stream or KV bucket that must exist does not',
  BB_ERR_TRANSPORT: 'the broker refused an operation for another reason (the cause says which)',
  BB_ERR_STREAM_REFUSED:
    'a stream refused to store a message: larger than its message size limit, or full with discard policy new',
  BB_ERR_REPLICAS: 'an existing bucket or stream has another replica count than asked, and the server cannot change it',
  BB_ERR_SERVER_VERSION: 'the nats-server is too old for what the service needs (replicated state before 2.9.21)',
  BB_ERR_REPUBLISH: 'an existing stream lacks the republish asked, and the server (2.9) cannot add it in place',
} as const;

/** One of the transport error codes. */
export type TransportErrorCode = keyof typeof TRANSPORT_ERROR_CODES;

/** A KV compare-and-set lost: the key has a live value (create) or moved past the expected revision. */
export class KvConflictError extends BackbeatError<{ bucket: string; key: string; expectedRevision?: number }> {
  constructor(bucket: string, key: string, expectedRevision?: number, options?: { cause?: unknown }) {
    const what = expectedRevision === undefined ? 'already has a value' : `is not at revision ${expectedRevision}`;
    super(
      'BB_ERR_KV_CONFLICT',
      `key '${key}' in bucket '${bucket}' ${what}`,
      { bucket, key, expectedRevision },
      options,
    );
  }
}

/** The bus was closed (by close(), or for good after the last reconnect attempt). */
export class NotConnectedError extends BackbeatError<{ operation: string }> {
  constructor(operation: string, options?: { cause?: unknown }) {
    super('BB_ERR_NOT_CONNECTED', `${operation}: the bus is closed`, { operation }, options);
  }
}

/** A request, acknowledgement or JetStream call did not complete within `timeoutMs`. */
export class TimeoutError extends BackbeatError<{ subject: string; timeoutMs: number }> {
  constructor(subject: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('BB_ERR_TIMEOUT', `no answer on '${subject}' within ${timeoutMs} ms`, { subject, timeoutMs }, options);
  }
}

/** No one answers on the subject (request), or no stream captures it (durable publish). */
export class NoRespondersError extends BackbeatError<{ subject: string }> {
  constructor(subject: string, options?: { cause?: unknown }) {
    super('BB_ERR_NO_RESPONDERS', `no responders on '${subject}'`, { subject }, options);
  }
}

/** A subject, KV key, bucket or stream name breaks the NATS rules (`rule` says which). */
export class InvalidSubjectError extends BackbeatError<{ subject: string; rule: string }> {
  constructor(subject: string, rule: string) {
    super('BB_ERR_INVALID_SUBJECT', `invalid subject or name '${subject}': ${rule}`, { subject, rule });
  }
}

/** A stream or KV bucket that must exist does not. */
export class JetStreamNotFoundError extends BackbeatError<{ kind: 'stream' | 'bucket'; name: string }> {
  constructor(kind: 'stream' | 'bucket', name: string, options?: { cause?: unknown }) {
    super('BB_ERR_JETSTREAM_NOT_FOUND', `${kind} '${name}' not found`, { kind, name }, options);
  }
}

/** The broker refused an operation for another reason (the cause says which). */
export class TransportError extends BackbeatError<{ operation: string }> {
  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super('BB_ERR_TRANSPORT', `${operation}: ${message}`, { operation }, options);
  }
}

/**
 * A stream refused to store a message (docs/spec.md §3 Subjects and shared state): `too_large`
 * (over its per-message size limit) or `full` (at its message or byte limit, discard policy
 * `new`: a full stream refuses new messages rather than dropping stored ones). Retrying the
 * same message does not help until the stream has room.
 */
export class StreamRefusedError extends BackbeatError<{ subject: string; reason: 'too_large' | 'full' }> {
  constructor(subject: string, reason: 'too_large' | 'full', detail: string, options?: { cause?: unknown }) {
    const what =
      reason === 'too_large'
        ? 'the message is larger than the stream allows'
        : 'the stream is full (it refuses new messages)';
    super('BB_ERR_STREAM_REFUSED', `publish on '${subject}' refused: ${what}: ${detail}`, { subject, reason }, options);
  }
}

/**
 * An existing bucket or stream has `actual` replicas, `wanted` were asked, and the server
 * refused (or cannot make) the change: the message says what differs and how to fix it
 * (every bucket and stream is replicated: docs/decisions/0001-replicated-state.md).
 */
export class ReplicaMismatchError extends BackbeatError<{
  kind: 'stream' | 'bucket';
  name: string;
  actual: number;
  wanted: number;
  reason: string;
}> {
  constructor(
    kind: 'stream' | 'bucket',
    name: string,
    actual: number,
    wanted: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    const fix =
      kind === 'bucket'
        ? `run with --replicas ${actual} to keep it, or change it with \`nats stream edit KV_${name} ` +
          `--replicas ${wanted}\` on a cluster of at least ${wanted} JetStream servers`
        : `run with --replicas ${actual} to keep it, or change it with \`nats stream edit ${name} ` +
          `--replicas ${wanted}\` on a cluster of at least ${wanted} JetStream servers`;
    super(
      'BB_ERR_REPLICAS',
      `${kind} '${name}' has ${actual} replica(s), ${wanted} asked: ${reason}; ${fix}`,
      { kind, name, actual, wanted, reason },
      options,
    );
  }
}

/** The connected nats-server is too old for what the service needs; the message says why and what to do. */
export class ServerVersionError extends BackbeatError<{ version: string }> {
  constructor(version: string, message: string) {
    super('BB_ERR_SERVER_VERSION', message, { version });
  }
}

/**
 * An existing stream has another republish than asked, and the server cannot change it in
 * place (nats-server 2.9 refuses any change of a stream's RePublish; 2.10 and newer allow it).
 * The stream is left as it was; the message says how to get the republish.
 */
export class RepublishUnchangeableError extends BackbeatError<{ stream: string; version: string | undefined }> {
  constructor(stream: string, version: string | undefined, options?: { cause?: unknown }) {
    super(
      'BB_ERR_REPUBLISH',
      `stream '${stream}' exists without the republish asked, and nats-server ${version ?? '(unknown version)'} ` +
        'cannot add it to an existing stream: upgrade to nats-server 2.10 or newer (it is added at the next start), ' +
        'or delete the stream so that it is made again with it',
      { stream, version },
      options,
    );
  }
}
