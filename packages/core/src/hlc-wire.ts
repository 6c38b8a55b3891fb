/**
 * HLC timestamps and their wire form (docs/spec.md §6 Hybrid logical clock): `pppp:llll:nnnn`,
 * three lower-case hex groups of 4 to 16 digits each: physical time in ms since the epoch, logical
 * counter, node suffix. Example: `7ffd:0001:abcd`; a stamp of today looks like
 * `19a8f3c2b10:0000:9f86d081`.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

/** One HLC reading. */
export interface HlcTimestamp {
  /** Physical part: integer ms since the epoch. */
  readonly physical: number;
  /** Logical counter: orders events within one physical ms. */
  readonly logical: number;
  /** Node suffix: lower-case hex, as parsed (leading zeros are kept). */
  readonly node: string;
}

/** Largest physical or logical value: both must stay exact in a JS number. */
export const HLC_MAX_COUNTER = Number.MAX_SAFE_INTEGER;

const WIRE = /^([0-9a-f]{4,16}):([0-9a-f]{4,16}):([0-9a-f]{4,16})$/;
const NODE = /^[0-9a-f]{1,16}$/;

/**
 * Formats a timestamp in the wire form, each group zero-padded to 4 digits.
 * @throws InvalidArgumentError when physical or logical is not an integer from 0 to
 * {@link HLC_MAX_COUNTER}, or node is not 1 to 16 lower-case hex digits
 */
export function formatHlc(ts: HlcTimestamp): string {
  checkCounter('physical', ts.physical);
  checkCounter('logical', ts.logical);
  if (typeof ts.node !== 'string' || !NODE.test(ts.node)) {
    throw new InvalidArgumentError('hlc.node', `must be 1 to 16 lower-case hex digits, got '${String(ts.node)}'`);
  }
  return `${hex4(ts.physical)}:${hex4(ts.logical)}:${ts.node.padStart(4, '0')}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function checkCounter(field: 'physical' | 'logical', n: unknown): void {
  if (!Number.isSafeInteger(n) || (n as number) < 0) {
    throw new InvalidArgumentError(`hlc.${field}`, `must be an integer from 0 to 2^53 - 1, got ${String(n)}`);
  }
}

/**
 * Parses the wire form.
 * @throws InvalidArgumentError (field `hlc`) saying what is wrong: the shape, upper-case
 * digits, a group's length, or a value beyond 2^53 - 1
 */
export function parseHlc(text: string): HlcTimestamp {
  const m = typeof text === 'string' ? WIRE.exec(text) : null;
  if (!m) throw new InvalidArgumentError('hlc', `'${String(text)}' is not an HLC: ${whyNot(text)}`);
  const physical = parseInt(m[1]!, 16);
  const logical = parseInt(m[2]!, 16);
  if (physical > HLC_MAX_COUNTER || logical > HLC_MAX_COUNTER) {
    throw new InvalidArgumentError('hlc', `'${text}' has a physical or logical part beyond 2^53 - 1`);
  }
  return { physical, logical, node: m[3]! };
}

function whyNot(text: unknown): string {
  const expected = "expected three lower-case hex groups of 4 to 16 digits joined by ':' (like 7ffd:0001:abcd)";
  if (typeof text !== 'string') return `not a string; ${expected}`;
  const groups = text.split(':');
  if (groups.length !== 3) return `${groups.length} group(s); ${expected}`;
  if (/[A-F]/.test(text)) return `upper-case hex digits; ${expected}`;
  const bad = groups.findIndex((g) => !/^[0-9a-f]{4,16}$/.test(g));
  return `group ${bad + 1} '${groups[bad]}' is not 4 to 16 hex digits; ${expected}`;
}

/**
 * Orders two timestamps: physical, then logical, then node (as a hex number).
 * @returns a negative number, 0 or a positive number
 */
export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): number {
  if (a.physical !== b.physical) return a.physical < b.physical ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return compareHex(a.node, b.node);
}

function compareHex(a: string, b: string): number {
  const x = a.replace(/^0+(?=.)/, '');
  const y = b.replace(/^0+(?=.)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The node suffix for a node id: the id itself, lower-cased, when it is already 4 to 16 hex
 * digits; else the first 8 hex digits of its SHA-256 (stable across restarts and hosts).
 */
export function hlcNodeSuffix(nodeId: string): string {
  if (/^[0-9a-fA-F]{4,16}$/.test(nodeId)) return nodeId.toLowerCase();
  return createHash('sha256').update(nodeId).digest('hex').slice(0, 8);
}

/**
 * Stands in for the HLC while a message's text is built ahead of its time; JSON.stringify
 * leaves it unchanged. The pulse's frame encoder and the SDK's frame templates both cut a
 * frame's text at it ({@link hlcHole}), so the leader's bytes and the SDK's expected bytes
 * come from one rule.
 */
export const HLC_PLACEHOLDER = '__BACKBEAT_HLC__';

/** A message's text with a hole where the HLC goes. */
export interface HlcHole {
  readonly before: string;
  readonly after: string;
}

/** `text` cut at its one {@link HLC_PLACEHOLDER}; null when it holds none, or more than one. */
export function hlcHole(text: string): HlcHole | null {
  const at = text.indexOf(HLC_PLACEHOLDER);
  if (at < 0 || text.indexOf(HLC_PLACEHOLDER, at + 1) >= 0) return null;
  return { before: text.slice(0, at), after: text.slice(at + HLC_PLACEHOLDER.length) };
}

/** The text of `hole` with `hlc` in it. */
export function fillHlcHole(hole: HlcHole, hlc: string): string {
  return hole.before + hlc + hole.after;
}

/**
 * The HLC in `text` when `text` is `hole`'s text with a well-formed wire HLC in the hole
 * (the shape only: see {@link parseHlc} for the value), else null.
 */
export function hlcInHole(hole: HlcHole, text: string): string | null {
  if (text.length < hole.before.length + hole.after.length + 14) return null;
  if (!text.startsWith(hole.before) || !text.endsWith(hole.after)) return null;
  const hlc = text.slice(hole.before.length, text.length - hole.after.length);
  return WIRE.test(hlc) ? hlc : null;
}
