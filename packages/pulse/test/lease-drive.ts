/**
 * Drives one lease machine by hand for the transition examples (docs/spec.md §7 Election, terms
 * and fencing): `step` with events and a time, and what it returned.
 */
import {
  initialLeaseState,
  outageTimings,
  step,
  type KvAnswer,
  type KvOp,
  type LeaseConfig,
  type LeaseEffect,
  type LeaseEvent,
  type LeaseState,
  type PulseLeaseRecord,
} from '@backbeat/pulse/internal';

export const TTL = 1000;
export const MARGIN = 125;
export const T = outageTimings(TTL);
export const cfg: LeaseConfig = {
  nodeId: 'a',
  ttlMs: TTL,
  fenceMarginMs: MARGIN,
  kvOutageGraceMs: 3000,
  clockOffsetBoundMs: 20,
  timings: T,
};

export const ok = (extra: Omit<Extract<KvAnswer, { ok: true }>, 'ok'> = {}): KvAnswer => ({ ok: true, ...extra });
export const fail = (kind: 'conflict' | 'no-responders' | 'failed'): KvAnswer => ({
  ok: false,
  failure: { kind, message: kind },
});
export const record = (node: string, term: number, extra: Partial<PulseLeaseRecord> = {}): PulseLeaseRecord => ({
  node_id: node,
  term,
  acquired_at: '1970-01-01T00:00:00.000Z',
  previous_node: null,
  reason: 'first leader',
  ...extra,
});

/** One machine, stepped by hand; `fx` holds the effects of the last step. */
export class Drive {
  state: LeaseState;
  at = 1000;
  refusal: string | null = null;
  /** Send time of the latest frame of the term the beat stream stored (server fencing), or undefined. */
  beatStoredAt: number | undefined = undefined;
  fx: readonly LeaseEffect[] = [];

  constructor(c: LeaseConfig = cfg) {
    this.state = initialLeaseState(c);
  }

  send(event: LeaseEvent, at = this.at): readonly LeaseEffect[] {
    this.at = at;
    const now = { at, wall: at, lastSlot: undefined, refusal: this.refusal, beatStoredAt: this.beatStoredAt };
    const r = step(this.state, event, now);
    this.state = r.state;
    this.fx = r.effects;
    return r.effects;
  }

  /** The KV operation the last step issued. */
  get op(): KvOp {
    const e = this.fx.find((x) => x.type === 'kv');
    if (e?.type !== 'kv') throw new Error(`no KV operation in ${JSON.stringify(this.fx)}`);
    return e.op;
  }

  /** Answers the operation in flight at `at`. */
  answer(a: KvAnswer, at = this.at): readonly LeaseEffect[] {
    return this.send({ type: 'kv', req: this.state.op!.req, answer: a }, at);
  }

  of<K extends LeaseEffect['type']>(type: K): Array<Extract<LeaseEffect, { type: K }>> {
    return this.fx.filter((e): e is Extract<LeaseEffect, { type: K }> => e.type === type);
  }

  logs(): string[] {
    return this.of('log').map((e) => e.msg);
  }
}

/** A fresh node that took the lease (term 1, revision 1) at t = 1000. */
export function leader(c: LeaseConfig = cfg): Drive {
  const d = new Drive(c);
  d.send({ type: 'start' });
  d.answer(ok({ lease: null }));
  d.answer(ok({ counter: null }));
  d.answer(ok({ revision: 1 }));
  d.answer(ok({ revision: 1 }));
  return d;
}
