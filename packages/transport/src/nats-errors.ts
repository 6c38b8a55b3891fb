/**
 * Maps nats.js errors onto the transport's typed errors, so a caller handed a NatsBus sees
 * the same classes a MemoryBus throws.
 */
import { BackbeatError } from '@backbeat/core';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';
import {
  InvalidSubjectError,
  JetStreamNotFoundError,
  KvConflictError,
  NoRespondersError,
  NotConnectedError,
  StreamRefusedError,
  TimeoutError,
  TransportError,
} from './errors.js';

/** What was being done when a nats.js call failed. */
export interface ErrorContext {
  /** Human-readable operation, e.g. "kv update 'backbeat_c1_lease'". */
  operation: string;
  /** Subject of a request or publish. */
  subject?: string;
  timeoutMs?: number;
  /** Stream (or KV bucket) the call addressed, for a not-found error. */
  stream?: { kind: 'stream' | 'bucket'; name: string };
  /** KV key and expected revision, for a compare-and-set conflict. */
  kv?: { bucket: string; key: string; expectedRevision?: number };
}

/** JetStream's err_code for a message over the stream's max_msg_size. */
const JS_MESSAGE_TOO_LARGE = 10054;
/** JetStream's err_code for a store that failed, e.g. "maximum bytes exceeded" (discard new). */
const JS_STORE_FAILED = 10077;

/** The error and its causes, outermost first (at most 5 deep). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && out.length < 5; e = e instanceof Error ? e.cause : undefined) out.push(e);
  return out;
}

/** The JetStream API error code in the chain, if any. */
function apiCode(errs: unknown[]): number | undefined {
  const api = errs.find((e): e is JetStreamApiError => e instanceof JetStreamApiError);
  return api?.code;
}

/** True when the error says the KV compare-and-set lost. */
export function isWrongLastSequence(err: unknown): boolean {
  const errs = chain(err);
  const code = apiCode(errs);
  if (code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
    return true;
  return errs.some((e) => e instanceof Error && /wrong last sequence/i.test(e.message));
}

/** Turns a nats.js failure into a BackbeatError (returned as is when it already is one). */
export function mapNatsError(err: unknown, ctx: ErrorContext): Error {
  if (err instanceof BackbeatError) return err;
  const errs = chain(err);
  const has = (cls: abstract new (...args: never[]) => Error) => errs.some((e) => e instanceof cls);
  const subject = ctx.subject ?? ctx.operation;
  if (ctx.kv && isWrongLastSequence(err))
    return new KvConflictError(ctx.kv.bucket, ctx.kv.key, ctx.kv.expectedRevision, { cause: err });
  if (has(natsErrors.NoRespondersError) || errs.some((e) => e instanceof Error && /no responders/i.test(e.message))) {
    return new NoRespondersError(subject, { cause: err });
  }
  if (has(natsErrors.TimeoutError)) return new TimeoutError(subject, ctx.timeoutMs ?? 5000, { cause: err });
  if (has(natsErrors.ClosedConnectionError) || has(natsErrors.DrainingConnectionError))
    return new NotConnectedError(ctx.operation, { cause: err });
  const code = apiCode(errs);
  const text = err instanceof Error ? err.message : String(err);
  // A stream's limits (docs/spec.md §3 Subjects and shared state): over its max_msg_size, or full
  // with discard new.
  if (code === JS_MESSAGE_TOO_LARGE) return new StreamRefusedError(subject, 'too_large', text, { cause: err });
  if (code === JS_STORE_FAILED && /maximum (bytes|messages)/i.test(text))
    return new StreamRefusedError(subject, 'full', text, { cause: err });
  if (
    ctx.stream &&
    (code === JetStreamApiCodes.StreamNotFound ||
      errs.some((e) => e instanceof Error && /stream not found/i.test(e.message)))
  ) {
    return new JetStreamNotFoundError(ctx.stream.kind, ctx.stream.name, { cause: err });
  }
  if (has(natsErrors.InvalidSubjectError))
    return new InvalidSubjectError(subject, err instanceof Error ? err.message : String(err));
  return new TransportError(ctx.operation, err instanceof Error ? err.message : String(err), { cause: err });
}
