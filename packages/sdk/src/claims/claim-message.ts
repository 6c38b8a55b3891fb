/**
 * A status claim as it goes on the wire (BACKBEAT-REQ-041, REQ-044; docs/spec.md §4 The three
 * messages and §10 Security): the INT-B claim from what the agent said, its UTF-8 JSON payload,
 * the headers (signed when given a key) and a random message id. No I/O: the client sends it
 * (claim-sender.ts).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { windowIdForBeat } from '@backbeat/core';
import {
  AGENT_ID_HEADER,
  HLC_HEADER,
  LEGACY_STATE_ALIASES,
  SIGNATURE_HEADER,
  validateStatusClaim,
  WINDOW_ID_HEADER,
  type ClaimState,
  type StatusClaim,
} from '@backbeat/contracts';
import { CLAIM_MAX_BYTES } from '@backbeat/transport';
import { ClaimInvalidError, ClaimTooLargeError } from '../errors.js';
import { signPayload } from './signing.js';

/** What emitStatusClaim takes; the SDK fills type, agent_id, beat_index, hlc and task_id. */
export interface ClaimInput {
  /** One of the nine INT-B states; `review` and `done` are accepted as deprecated aliases. */
  state: ClaimState | 'review' | 'done';
  progress?: number;
  beatsLeft?: number;
  notes?: string;
  waitFor?: string[];
  /** @default a generated `task:xxxxxxxx` */
  taskId?: string;
  /** The beat the claim speaks for. @default the current beat */
  beatIndex?: number;
}

/** Who sends, when, and how. */
export interface ClaimContext {
  readonly agentId: string;
  readonly clusterId: string;
  readonly beatIndex: number;
  readonly hlc: string;
  /** The bar length of the client's tempo map (for the window id). */
  readonly barLength: number;
  readonly signingKey?: KeyObject | undefined;
  readonly logger: { warn(o: object, m?: string): void };
}

/** A claim ready to send. */
export interface ClaimMessage {
  readonly claim: StatusClaim;
  readonly payload: Uint8Array;
  readonly headers: Record<string, string>;
  /** The Nats-Msg-Id. */
  readonly msgId: string;
}

const enc = new TextEncoder();

/**
 * The claim `input` makes at `ctx`.
 * @throws ClaimInvalidError for input that breaks INT-B; ClaimTooLargeError for a payload over
 *   CLAIM_MAX_BYTES (64 KiB)
 */
export function claimMessage(input: ClaimInput, ctx: ClaimContext): ClaimMessage {
  const claim: Record<string, unknown> = {
    type: 'backbeat.statusclaim.v1',
    agent_id: ctx.agentId,
    task_id: input.taskId ?? `task:${randomBytes(4).toString('hex')}`,
    beat_index: ctx.beatIndex,
    state: canonicalState(input.state, ctx.logger),
    hlc: ctx.hlc,
  };
  if (input.progress !== undefined) claim.progress = input.progress;
  if (input.beatsLeft !== undefined) claim.beats_left = input.beatsLeft;
  if (input.notes !== undefined) claim.notes = input.notes;
  if (input.waitFor !== undefined) claim.wait_for = input.waitFor;
  const v = validateStatusClaim(claim);
  if (!v.valid) throw new ClaimInvalidError(v.errors);
  const payload = enc.encode(JSON.stringify(v.value));
  // docs/spec.md §10 Security: reverb refuses it and the claim stream would too; never sent.
  if (payload.length > CLAIM_MAX_BYTES) throw new ClaimTooLargeError(payload.length, CLAIM_MAX_BYTES);
  const headers: Record<string, string> = {
    [AGENT_ID_HEADER]: ctx.agentId,
    [WINDOW_ID_HEADER]: windowIdForBeat(ctx.clusterId, ctx.beatIndex, ctx.barLength),
    [HLC_HEADER]: ctx.hlc,
  };
  if (ctx.signingKey) headers[SIGNATURE_HEADER] = signPayload(ctx.signingKey, payload);
  // docs/spec.md §10 Security: a random 128-bit Nats-Msg-Id, so no other login can predict it
  // and store junk under it first; made once here, so the sender's retries keep it.
  return { claim: v.value, payload, headers, msgId: randomBytes(16).toString('hex') };
}

/**
 * The aliases already warned about. A deprecation is a process's warning (process.emitWarning,
 * docs/spec.md §4 The three messages: a one-time warning), so this is the process's too.
 */
const warnedAliases = new Set<string>();

/** Maps the SDK seed's aliases onto INT-B states, warning once per alias (REQ-043). */
function canonicalState(state: string, log: { warn(o: object, m?: string): void }): string {
  const alias = (LEGACY_STATE_ALIASES as Record<string, string>)[state];
  if (!alias) return state;
  if (!warnedAliases.has(state)) {
    warnedAliases.add(state);
    const message = `status state '${state}' is deprecated: use '${alias}'`;
    log.warn({ state, use: alias }, message);
    process.emitWarning(message, { type: 'DeprecationWarning', code: 'BB_DEP_STATE_ALIAS' });
  }
  return alias;
}
