import { BackbeatError } from '@backbeat/core';

/** Error codes defined by the transport package. */
export const TRANSPORT_ERROR_CODES = {
  BB_ERR_KV_CONFLICT: 'a KV create found the key, or an update named a revision that is not the last',
  BB_ERR_NOT_CONNECTED: 'the bus is closed or not connected',
  BB_ERR_TIMEOUT: 'a request or acknowledgement did not arrive in time',
  BB_ERR_NO_RESPONDERS: 'nobody listens on the subject of a request, or no stream captures a durable publish',
  BB_ERR_INVALID_SUBJECT: 'a subject or name breaks the NATS naming rules',
  BB_ERR_TRANSPORT: 'the broker refused an operation',
} as const;

/** A KV compare-and-set lost: the key exists (create) or moved past the expected revision. */
export class KvConflictError extends BackbeatError<{ bucket: string; key: string; expectedRevision?: number }> {
  constructor(bucket: string, key: string, expectedRevision?: number, options?: { cause?: unknown }) {
    const what = expectedRevision === undefined ? 'already exists' : `is not at revision ${expectedRevision}`;
    super('BB_ERR_KV_CONFLICT', `key '${key}' in bucket '${bucket}' ${what}`, { bucket, key, expectedRevision }, options);
  }
}

/** The bus is closed or disconnected. */
export class NotConnectedError extends BackbeatError<{ operation: string }> {
  constructor(operation: string, options?: { cause?: unknown }) {
    super('BB_ERR_NOT_CONNECTED', `${operation}: not connected to the bus`, { operation }, options);
  }
}

/** A request or acknowledgement timed out. */
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

/** A subject, bucket or stream name breaks the NATS rules. */
export class InvalidSubjectError extends BackbeatError<{ subject: string; rule: string }> {
  constructor(subject: string, rule: string) {
    super('BB_ERR_INVALID_SUBJECT', `invalid subject '${subject}': ${rule}`, { subject, rule });
  }
}

/** The broker refused an operation for another reason (the cause says which). */
export class TransportError extends BackbeatError<{ operation: string }> {
  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super('BB_ERR_TRANSPORT', `${operation}: ${message}`, { operation }, options);
  }
}
