/**
 * The lease machine (docs/spec.md §7 Election, terms and fencing): `step(state, event, now)`
 * returns the next state and the effects to carry out, with no I/O, timers or clock reads. One
 * flow at a time (a campaign, a renewal or a release, campaign.ts, renewal.ts, release.ts) runs
 * as a chain of KV operations, each answer continuing it; when it ends the next tick is armed:
 * a follower polls every min(250 ms, TTL/8), at once when its watch saw the lease end or a
 * takeover fell due; a leader renews every TTL/4, every 150 ms in a KV outage. Timers fence the
 * leader at its fence time and end the handover guard. The shell (kv-lease-elector.ts) turns KV
 * answers, timers and watch updates into events and carries the effects out.
 */
import type { KvAnswer, LeaseEffect, LeaseEvent, LeaseNow, LeaseTimer } from './machine-io.js';
import { campaign, campaignSteps } from './campaign.js';
import { OUTAGE_RETRY_MS } from './outage.js';
import { release, releaseSteps } from './release.js';
import { renew, renewalSteps } from './renewal.js';
import { Turn, type LeaseState, type Phase } from './turn.js';

export { initialLeaseState, leadershipOf, mayPublish, quorumHeldUntil, type LeaseState } from './turn.js';

/** One step: the next state and the effects, in order. */
export interface LeaseStep {
  readonly state: LeaseState;
  readonly effects: readonly LeaseEffect[];
}

type Steps = { [N in Phase['name']]: (t: Turn, p: Extract<Phase, { name: N }>, a: KvAnswer) => void };
const steps: Steps = { ...campaignSteps, ...renewalSteps, ...releaseSteps };

const TIMERS: readonly LeaseTimer[] = ['tick', 'fence', 'guard', 'takeover'];

/** The lease machine's transition: what `event`, seen at `now`, does to `state`. */
export function step(state: LeaseState, event: LeaseEvent, now: LeaseNow): LeaseStep {
  const t = new Turn(state, now);
  const s = t.s;
  switch (event.type) {
    case 'start':
      if (!s.running) {
        s.running = true;
        tick(t);
      }
      break;
    case 'stop':
      if (!s.running) break;
      s.running = false;
      for (const timer of TIMERS) t.disarm(timer);
      s.stopping = 'wait';
      if (!s.busy) t.flowEnded = true;
      break;
    case 'fence':
      if (!s.isLeader) break;
      s.selfFenced = true;
      t.setLeader(false, event.reason);
      break;
    case 'timer':
      onTimer(t, event.timer);
      break;
    case 'kv': {
      if (!s.op || s.op.req !== event.req) break; // not the operation in flight
      const phase = s.op.phase;
      t.answerSentAt = s.op.sentAt;
      s.op = undefined;
      (steps[phase.name] as (t: Turn, p: Phase, a: KvAnswer) => void)(t, phase, event.answer);
      break;
    }
    case 'lease-written':
      t.observe(event.revision, event.created);
      break;
    case 'lease-ended':
      leaseEnded(t);
      break;
  }
  while (t.flowEnded) afterFlow(t);
  return { state: t.s, effects: t.effects };
}

/** A tick: a leader renews (or releases, refused by its clock check), a follower campaigns. */
function tick(t: Turn): void {
  const { s, now } = t;
  s.busy = true;
  if (!s.isLeader) return campaign(t);
  if (!now.refusal) return renew(t);
  t.setLeader(false, now.refusal);
  release(t, now.refusal);
}

/** The flow in flight ended: arm the next tick, or go on with a stop. */
function afterFlow(t: Turn): void {
  const s = t.s;
  t.flowEnded = false;
  s.busy = false;
  s.op = undefined;
  if (s.stopping === 'wait' && s.isLeader) {
    s.stopping = 'release';
    t.setLeader(false, 'stopped');
    s.busy = true;
    return release(t, 'released');
  }
  if (s.stopping !== undefined) {
    s.stopping = undefined;
    for (const timer of TIMERS) t.disarm(timer);
    t.effects.push({ type: 'stopped' });
    return;
  }
  schedule(t);
  t.effects.push({ type: 'idle' });
}

function schedule(t: Turn): void {
  const { s, cfg } = t;
  if (!s.running) return;
  const poll = s.leaseEnded ? 0 : Math.min(250, cfg.ttlMs / 8);
  const every = s.isLeader ? (s.outageSince !== undefined ? OUTAGE_RETRY_MS : cfg.ttlMs / 4) : poll;
  t.arm('tick', t.now.at + every);
}

/** The lease ended (the watch saw it) or a takeover fell due: a follower campaigns now, not at its next poll. */
function leaseEnded(t: Turn): void {
  const s = t.s;
  if (!s.running || s.isLeader) return;
  s.leaseEnded = true;
  if (s.busy) return; // the flow in flight arms the next tick at once
  schedule(t);
}

function onTimer(t: Turn, timer: LeaseTimer): void {
  const { s, cfg, now } = t;
  switch (timer) {
    case 'tick':
      if (s.running && !s.busy) tick(t);
      return;
    case 'fence': {
      if (!s.isLeader || now.at < s.validUntil) return;
      const graceEnd = s.okSentAt + cfg.ttlMs - cfg.fenceMarginMs + cfg.kvOutageGraceMs;
      const beyondGrace = s.outageSince !== undefined && s.validUntil >= graceEnd;
      const why = `the lease KV stayed unwritable past the outage grace (${cfg.kvOutageGraceMs} ms)`;
      return t.setLeader(false, beyondGrace ? why : 'lease not renewed in time');
    }
    case 'guard':
      if (!s.isLeader) return;
      t.deadline(s.validUntil);
      return t.changed();
    case 'takeover':
      if (!s.running || s.isLeader) return;
      s.takeover = s.takeoverSeen;
      return leaseEnded(t);
  }
}
