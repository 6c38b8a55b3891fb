/**
 * The checks every claim passes before it counts (docs/spec.md §9 Reverb and docs/spec.md §10 Security): size, contract
 * (INT-B), signature per mode, distance from the beat at which it was stored. Pure: returns a
 * verdict, never throws.
 */
import { AGENT_ID_HEADER, parseStatusClaim, SIGNATURE_HEADER, type StatusClaim } from '@backbeat/contracts';
import type { Headers } from '@backbeat/transport';
import type { SignatureMode } from '../options.js';
import type { SignatureCheck, TrustStore } from '../trust.js';
import type { IssueKind } from './issue-kinds.js';

/** What to do with a claim. */
export type Verdict =
  | { readonly accept: true; readonly claim: StatusClaim; readonly unsignedAccepted: boolean }
  | { readonly accept: false; readonly reason: IssueKind; readonly message: string; readonly claim?: StatusClaim };

/** Context of a check. */
export interface IngestContext {
  readonly mode: SignatureMode;
  readonly trust: TrustStore | undefined;
  readonly maxBytes: number;
  /**
   * The beat at which the claim was stored (or the current beat), -1 when unknown (no
   * distance check then). A claim naming a beat far from it is refused as a replay.
   */
  readonly currentBeat: number;
  /**
   * Claims naming a beat more than this many beats ahead of `currentBeat` (or behind it, unless `lateBeats` is given)
   * are replays.
   */
  readonly replayBeats: number;
  /**
   * Claims naming a beat more than this many beats behind `currentBeat` are replays; closer
   * ones are late claims (an SDK queues claims through an outage). @default replayBeats
   */
  readonly lateBeats?: number;
  /**
   * The signature's check, already made (on a verify thread) for the agent of the
   * `x-agent-id` header, which is then the claim's own; checked here when absent.
   */
  readonly signature?: SignatureCheck;
}

const WHAT = {
  unsigned: 'has no signature',
  unknown_agent: 'comes from an agent not in the trust file',
  malformed_signature: 'has a malformed signature',
  bad_signature: 'has a signature no trusted key verifies',
  retired_key: 'is signed with a key the trust file lists as retired',
} as const;

/**
 * Checks one claim (BACKBEAT-REQ-044, docs/spec.md §10 Security). The claim's agent is bound
 * by its signature: an `x-agent-id` header that names another agent than the payload's is
 * refused in every mode, and an agent listed in the trust file is always verified, whatever
 * the mode. Agents not listed: `off` accepts them, `verify` accepts them unsigned (flagged
 * `unsigned_accepted`) and refuses a signature it cannot check, `require` refuses them.
 */
export function checkClaim(data: Uint8Array, headers: Headers, ctx: IngestContext): Verdict {
  if (data.length > ctx.maxBytes)
    return { accept: false, reason: 'too_large', message: `claim of ${data.length} bytes exceeds ${ctx.maxBytes}` };
  const parsed = parseStatusClaim(data);
  if (!parsed.ok) return { accept: false, reason: 'invalid', message: parsed.error.message };
  const claim = parsed.message;
  const agentHeader = headers[AGENT_ID_HEADER];
  if (agentHeader !== undefined && agentHeader !== claim.agent_id) {
    const shown = JSON.stringify(agentHeader.slice(0, 128));
    return {
      accept: false,
      reason: 'agent_mismatch',
      message: `x-agent-id ${shown} is not the claim's agent_id '${claim.agent_id}'`,
      claim,
    };
  }
  const signature = headers[SIGNATURE_HEADER];
  const listed = ctx.trust?.knows(claim.agent_id) ?? false;
  const mustVerify = listed || ctx.mode === 'require' || (ctx.mode === 'verify' && signature !== undefined);
  let unsignedAccepted = false;
  if (mustVerify) {
    // A verify thread checked the signature for the x-agent-id header's agent: the payload's, checked above.
    const checked = agentHeader !== undefined ? ctx.signature : undefined;
    const check =
      checked ??
      (ctx.trust
        ? ctx.trust.check(claim.agent_id, data, signature)
        : ({ ok: false, reason: signature ? 'unknown_agent' : 'unsigned' } as const));
    if (!check.ok)
      return {
        accept: false,
        reason: check.reason,
        message: `claim of ${claim.agent_id} ${WHAT[check.reason]}`,
        claim,
      };
  } else if (ctx.mode === 'verify') {
    unsignedAccepted = true;
  }
  const ahead = claim.beat_index - ctx.currentBeat;
  if (ctx.currentBeat >= 0 && (ahead > ctx.replayBeats || -ahead > (ctx.lateBeats ?? ctx.replayBeats))) {
    return {
      accept: false,
      reason: 'replayed',
      message: `claim names beat ${claim.beat_index}, too far from beat ${ctx.currentBeat} at which it was stored`,
      claim,
    };
  }
  return { accept: true, claim, unsignedAccepted };
}
