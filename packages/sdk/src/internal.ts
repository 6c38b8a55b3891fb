/**
 * `@backbeat/sdk/internal`: the parts inside the client that the package's tests drive
 * directly (the follower machine and its shell, the frame gate, the slot timer, the claim
 * sender). Not a public API: it changes with the implementation.
 */
export { slotToPrepare, step } from './follow/follower-machine.js';
export { cloneFollowerState, dueAt, initialFollowerState } from './follow/follower-state.js';
export type { FiredSlot, FollowerConfig, FollowerEvent, FollowerState } from './follow/follower-state.js';
export { copyEffect, FollowerEffects } from './follow/follower-effects.js';
export type { EffectKind, FollowerEffect } from './follow/follower-effects.js';
export { BeatFollower } from './follow/follower.js';
export type { FollowerOptions } from './follow/follower.js';
export { FrameGate, HOLD_MS } from './follow/frame-gate.js';
export { GRID_TOLERANCE_MS, onGrid } from './follow/on-grid.js';
export type { AcceptedFrame, FrameGateOptions, GateListener, IncomingFrame } from './follow/gate-types.js';
export { buildFrameTemplate, frameTemplate, matchFrameTemplate } from './follow/frame-template.js';
export type { FrameTemplate } from './follow/frame-template.js';
export { ClockOffsetEstimator, OFFSET_WINDOW } from './follow/clock-offset.js';
export { PREPARE_LEAD_MS, SETTLE_DELAY_MS, SlotTimer, sharedSlotTimer } from './follow/slot-timer.js';
export { claimMessage } from './claims/claim-message.js';
export type { ClaimContext, ClaimMessage } from './claims/claim-message.js';
export { ClaimSender, DEFAULT_NO_STREAM_GRACE_MS, permanentCause, PERMANENT_ATTEMPTS } from './claims/claim-sender.js';
export { SdkMetrics } from './metrics.js';
export { resolveClientOptions, assertAgentId } from './options.js';
export { runWithBudget } from './budget.js';
export { noBeatHint, SILENCE_HINT_MS } from './silence.js';
