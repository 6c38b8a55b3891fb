/**
 * The NATS header names BACKBEAT messages carry besides `Backbeat-Term` (see beat-frame.ts), in
 * one place for every package (docs/spec.md §4 The three messages, §9 Reverb, §10 Security).
 * Header names are case-sensitive on the wire: use these constants, never a literal.
 */

/** A StatusClaim's agent id (the signer; must equal the payload's `agent_id`). */
export const AGENT_ID_HEADER = 'x-agent-id';
/** A StatusClaim's window id (the bar it belongs to). */
export const WINDOW_ID_HEADER = 'x-window-id';
/** A StatusClaim's HLC (with the agent id, the claim's identity and its `Nats-Msg-Id`). */
export const HLC_HEADER = 'x-hlc';
/** A StatusClaim's Ed25519 signature over the exact payload bytes (padded base64). */
export const SIGNATURE_HEADER = 'x-signature';
/** A dead-lettered claim's refusal reason (an issue kind). */
export const REASON_HEADER = 'x-reason';
/** A dead-lettered claim's refusal message (one line). */
export const ERROR_HEADER = 'x-error';
/**
 * A stored BarReport's claim cut: the claim-stream sequence up to which the report accounts
 * for every claim (docs/spec.md §9 Reverb, "The claim cut").
 */
export const CLAIM_CUT_HEADER = 'Backbeat-Claim-Cut';
/** A stored BarReport's builder: the node id of the reverb replica whose copy was stored. */
export const REPORT_NODE_HEADER = 'Backbeat-Report-Node';
