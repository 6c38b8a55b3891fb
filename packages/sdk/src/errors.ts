import { BackbeatError } from '@backbeat/core';
import type { ValidationIssue } from '@backbeat/contracts';

/** Error codes defined by the SDK. */
export const SDK_ERROR_CODES = {
  BB_ERR_BEAT_BUDGET_EXCEEDED: 'work bounded by withBeatBudget was still running when its last beat ended (REQ-042)',
  BB_ERR_CLAIM_INVALID: 'a status claim breaks the INT-B contract',
  BB_ERR_CLAIM_REJECTED:
    'a status claim failed for good after bounded retries: no stream captures its subject, ' +
    'permission was denied, or the claim stream is full or refused its size',
  BB_ERR_CLAIM_TOO_LARGE: 'a status claim is larger than the 64 KiB a claim may be: refused before it is sent',
  BB_ERR_CLAIM_QUEUE_FULL: 'a status claim was dropped: the queue of claims waiting for the connection is full',
  BB_ERR_CLIENT_STOPPED: 'the client is not started, or was stopped',
  BB_ERR_NO_BEAT: 'no beat is known yet: no frame arrived and no tempo map was read',
} as const;

/** Work ran past its beat budget (BACKBEAT-REQ-042); its AbortSignal was aborted. */
export class BeatBudgetExceededError extends BackbeatError<{ beats: number; startBeat: number; deadlineBeat: number }> {
  constructor(beats: number, startBeat: number, deadlineBeat: number) {
    super('BB_ERR_BEAT_BUDGET_EXCEEDED', `beat budget of ${beats} beats exceeded: beat ${deadlineBeat} started`, {
      beats,
      startBeat,
      deadlineBeat,
    });
  }
}

/** A status claim breaks INT-B; `context.errors` says which fields and rules. */
export class ClaimInvalidError extends BackbeatError<{ errors: readonly ValidationIssue[] }> {
  constructor(errors: readonly ValidationIssue[]) {
    super('BB_ERR_CLAIM_INVALID', `invalid status claim: ${errors.map((e) => e.message).join('; ')}`, { errors });
  }
}

/** A claim's payload is larger than a claim may be (docs/spec.md §10 Security): never sent. */
export class ClaimTooLargeError extends BackbeatError<{ bytes: number; limit: number }> {
  constructor(bytes: number, limit: number) {
    super(
      'BB_ERR_CLAIM_TOO_LARGE',
      `status claim of ${bytes} bytes not sent: a claim may be at most ${limit} bytes (shorten notes or wait_for)`,
      { bytes, limit },
    );
  }
}

/** The bounded queue of claims waiting for a connection is full. */
export class ClaimQueueFullError extends BackbeatError<{ limit: number }> {
  constructor(limit: number) {
    super('BB_ERR_CLAIM_QUEUE_FULL', `status claim dropped: ${limit} claims already wait for the connection`, {
      limit,
    });
  }
}

/** The client is not running. */
export class ClientStoppedError extends BackbeatError<{ operation: string }> {
  constructor(operation: string) {
    super('BB_ERR_CLIENT_STOPPED', `${operation}: the client is not started or was stopped`, { operation });
  }
}

/** No beat is known yet. */
export class NoBeatError extends BackbeatError<{ operation: string }> {
  constructor(operation: string) {
    super('BB_ERR_NO_BEAT', `${operation}: no beat is known yet (no frame and no tempo map)`, { operation });
  }
}

/** Why a claim failed for good (the `reason` of `backbeat_sdk_claims_failed_total`). */
export type ClaimFailure = 'no_stream' | 'permission' | 'invalid_subject' | 'stream_full' | 'too_large';

const FAILURE_TEXT: Record<ClaimFailure, string> = {
  no_stream: 'no JetStream stream captures it (reverb or the pulse creates the status stream)',
  permission: 'permission denied (the agent may publish only on backbeat.<cluster>.status)',
  invalid_subject: 'the subject is not valid',
  stream_full:
    'the claim stream is full and refuses new claims (its byte or message limit; reverb --claim-stream-max-bytes)',
  too_large: 'the claim stream refused it as larger than its per-message limit',
};

/** A status claim failed for good: no stream, permission denied, or the claim stream refused it (full, too large). */
export class ClaimRejectedError extends BackbeatError<{ subject: string; cause: string; attempts: number }> {
  constructor(subject: string, cause: ClaimFailure, attempts: number, error: unknown) {
    const why = FAILURE_TEXT[cause];
    super(
      'BB_ERR_CLAIM_REJECTED',
      `status claim on '${subject}' rejected after ${attempts} attempts: ` +
        `${why}: ${(error as Error)?.message ?? String(error)}`,
      { subject, cause, attempts },
      { cause: error },
    );
  }
}
