/**
 * What the follower machine asks its shell to do (follower-machine.ts; docs/spec.md §8
 * Degradation and grid timing), and the buffer it writes them into. The buffer is the shell's
 * and is reused by every step: a slot costs no allocation (a client steps about four times per
 * slot, a process follows with hundreds of clients). A step appends its effects; the shell
 * carries them out and truncates the buffer back, so it is a stack: a step taken while another
 * step's effects are carried out (a beat callback stops a client) appends above them, and the
 * followers of one gate share one buffer (frame-gate.ts). Records are valid until the buffer is
 * truncated below them: read them at once, or keep a {@link copyEffect}.
 */
import type { BeatPosition, TempoMap } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { BeatSource, DropReason } from './beat-types.js';

/** What the shell must do, in order. */
export type FollowerEffect =
  /** Call the slot's callbacks; `frame` null: a frame built from `map` (source local or grid). */
  | {
      readonly kind: 'fire';
      readonly pos: BeatPosition;
      readonly source: BeatSource;
      readonly receivedAt: number;
      readonly frame: BeatFrame | null;
      readonly map: TempoMap | null;
    }
  /** Replace any timer by one at `at` (it calls back with `wake`; before it, ask slotToPrepare). */
  | { readonly kind: 'arm'; readonly at: number }
  | { readonly kind: 'disarm' }
  /** Let the event loop read its sockets once, then send `due` (unless re-armed meanwhile). */
  | { readonly kind: 'defer' }
  /** Send `settle` once every client of this wake-up has been called. */
  | { readonly kind: 'settle-after-batch' }
  | { readonly kind: 'degraded'; readonly on: boolean }
  /** Merge a leader frame's HLC into the client's. */
  | { readonly kind: 'merge-hlc'; readonly hlc: string }
  | { readonly kind: 'error'; readonly message: string; readonly log: boolean }
  | { readonly kind: 'received' }
  | { readonly kind: 'dropped'; readonly reason: DropReason }
  | { readonly kind: 'confirmed'; readonly lagMs: number }
  | { readonly kind: 'skipped'; readonly slots: number }
  | { readonly kind: 'synthesized' }
  /** The last fired slot's bookkeeping is done (the shell records its callback time). */
  | { readonly kind: 'settled' };

/** An effect's kind. */
export type EffectKind = FollowerEffect['kind'];

/**
 * A record of the buffer: the fields of every kind, so that all records have one shape (one
 * hidden class). Only the fields of its current kind are meaningful.
 */
export interface EffectRecord {
  kind: EffectKind;
  pos: BeatPosition | null;
  source: BeatSource;
  receivedAt: number;
  frame: BeatFrame | null;
  map: TempoMap | null;
  at: number;
  on: boolean;
  hlc: string;
  message: string;
  log: boolean;
  reason: DropReason;
  lagMs: number;
  slots: number;
}

/** The fields each kind carries. */
const FIELDS: { readonly [K in EffectKind]: readonly Exclude<keyof EffectRecord, 'kind'>[] } = {
  fire: ['pos', 'source', 'receivedAt', 'frame', 'map'],
  arm: ['at'],
  disarm: [],
  defer: [],
  'settle-after-batch': [],
  degraded: ['on'],
  'merge-hlc': ['hlc'],
  error: ['message', 'log'],
  received: [],
  dropped: ['reason'],
  confirmed: ['lagMs'],
  skipped: ['slots'],
  synthesized: [],
  settled: [],
};

/** Effects in order, appended by steps and truncated by the shell once carried out. */
export class FollowerEffects {
  readonly #records: EffectRecord[] = [];
  #length = 0;

  /** How many effects the buffer holds. */
  get length(): number {
    return this.#length;
  }

  /** The `i`th effect (0 <= i < length); valid until the next step writes into this buffer. */
  at(i: number): FollowerEffect {
    return this.#records[i] as unknown as FollowerEffect;
  }

  /** Forgets the effects from the `n`th on (the ones carried out). */
  truncate(n: number): void {
    this.#length = n;
  }

  /** The next record, its kind set; the machine sets the kind's fields (the others keep old values). */
  push(kind: EffectKind): EffectRecord {
    let r = this.#records[this.#length];
    if (r === undefined) {
      r = blank();
      this.#records.push(r);
    }
    this.#length++;
    r.kind = kind;
    return r;
  }
}

/** An effect as a value of its own (its kind's fields only), to keep beyond the next step. */
export function copyEffect(e: FollowerEffect): FollowerEffect {
  const r = e as unknown as EffectRecord;
  const out: Record<string, unknown> = { kind: r.kind };
  for (const f of FIELDS[r.kind]) out[f] = r[f];
  return out as unknown as FollowerEffect;
}

function blank(): EffectRecord {
  return {
    kind: 'settled',
    pos: null,
    source: 'leader',
    receivedAt: 0,
    frame: null,
    map: null,
    at: 0,
    on: false,
    hlc: '',
    message: '',
    log: false,
    reason: 'invalid',
    lagMs: 0,
    slots: 0,
  };
}
