/**
 * The codes BACKBEAT's HTTP servers (pulse admin API, reverb API, `backbeat dev`, the
 * dashboard) put in an error body `{ error, message }`. Registered once here, documented in
 * docs/errors.md, never shared with a thrown error's code.
 */

/** Every HTTP body error code with its status. */
export const HTTP_ERROR_CODES = {
  BB_ERR_BAD_REQUEST: { status: 400, meaning: 'the body or query breaks its schema (the message names the field)' },
  BB_ERR_UNAUTHORIZED: { status: 401, meaning: 'no valid bearer token while one is configured' },
  BB_ERR_FORBIDDEN: {
    status: 403,
    meaning: 'a foreign Host (DNS rebinding) on a tokenless server, or a cross-site Origin on a state change',
  },
  BB_ERR_NOT_FOUND: { status: 404, meaning: 'no such route, window or report' },
  BB_ERR_NO_FAILOVER: { status: 409, meaning: 'a failover demo needs --pulse-nodes 2 or more' },
  BB_ERR_BODY_TOO_LARGE: { status: 413, meaning: 'the request body is larger than the server takes (64 KiB)' },
  BB_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: 'a state change without Content-Type application/json on a tokenless server',
  },
  BB_ERR_INTERNAL: { status: 500, meaning: 'an unexpected failure (logged; the body says no more)' },
  BB_ERR_NOT_AVAILABLE: { status: 501, meaning: 'this server does not offer the operation' },
  BB_ERR_PULSE_UNREACHABLE: { status: 502, meaning: 'the pulse admin API a request is forwarded to did not answer' },
  BB_ERR_UNAVAILABLE: { status: 503, meaning: 'a dependency (NATS, a stream) is not reachable now' },
} as const;

/** One of the registered HTTP body error codes. */
export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/** The body of an HTTP error answer. */
export interface HttpErrorBody {
  readonly error: HttpErrorCode | string;
  readonly message: string;
  readonly [extra: string]: unknown;
}

/** The status and body of an error answer with a registered code. */
export function httpError(
  code: HttpErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): { status: number; body: HttpErrorBody } {
  return { status: HTTP_ERROR_CODES[code].status, body: { ...extra, error: code, message } };
}

/** What {@link sendHttpError} answers on: a fastify reply, or anything shaped like one. */
export interface ErrorReply<R> {
  code(status: number): { send(body: HttpErrorBody): R };
}

/**
 * Answers `reply` with an error from {@link httpError}: `sendHttpError(reply, httpError('BB_ERR_NOT_FOUND', '...'))`.
 */
export function sendHttpError<R>(reply: ErrorReply<R>, e: { status: number; body: HttpErrorBody }): R {
  return reply.code(e.status).send(e.body);
}
