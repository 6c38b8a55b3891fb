/**
 * What the frame gate (frame-gate.ts) takes and tells: the lease as the client knows it, a frame
 * as it arrived, an accepted frame, and the listener every client of a gate registers
 * (docs/spec.md §7 Election, terms and fencing).
 */
import type { BeatPosition } from '@backbeat/core';
import type { BeatFrame } from '@backbeat/contracts';
import type { DropReason } from './beat-types.js';
import type { OffsetReading } from './clock-offset.js';

/** What the client knows about the lease (docs/spec.md §7 Election, terms and fencing). */
export type LeaseView =
  | { readonly state: 'held'; readonly term: number; readonly nodeId: string }
  /** No lease bucket (a single-node pulse) or no lease in it (between two leaders). */
  | { readonly state: 'absent'; readonly reason: string }
  /** The lease cannot be read (permissions, a bad value): no term fencing, grid checks only. */
  | { readonly state: 'unreadable'; readonly reason: string };

/** Where the gate's tempo map came from. */
export type MapSource = 'kv' | 'frames' | 'none';

/** A frame as it arrived: parsed once for every client of the bus. */
export interface IncomingFrame {
  /** The valid frame, or undefined when the body broke INT-A (`error` says why). */
  readonly frame?: BeatFrame;
  readonly error?: string;
  /** The raw `Backbeat-Term` header value. */
  readonly termHeader: string | undefined;
  /** clock.now() at receipt. */
  readonly receivedAt: number;
}

/** A frame that passed every check, with its slot on the client's grid. */
export interface AcceptedFrame {
  /** An accepted frame is, as it is, the follower machine's `frame` event (follower-state.ts). */
  readonly kind: 'frame';
  readonly frame: BeatFrame;
  readonly pos: BeatPosition;
  readonly term: number | null;
  readonly receivedAt: number;
  /** The clock-offset estimate once this frame was sampled. */
  readonly offset: OffsetReading;
}

/** What a gate tells each client. */
export interface GateListener {
  accept(f: AcceptedFrame): void;
  /** Called on every listener once all of them had {@link accept}: bookkeeping after the callbacks. */
  settle?(): void;
  /** `log` is true for one listener only, so a thousand clients log a drop once. */
  drop(reason: DropReason, detail: string, log: boolean): void;
  /** The tempo map changed (from KV or learned from a frame). */
  mapChanged(): void;
  leaseChanged(lease: LeaseView): void;
}

/** Options of a FrameGate (frame-gate.ts). */
export interface FrameGateOptions {
  /** How far before its slot a frame may arrive (clock offset + jitter), ms. */
  aheadMs: number;
  /** Re-read the lease or the tempo map from KV (the gate holds a frame meanwhile). */
  refresh?(what: 'lease' | 'map'): void;
}
