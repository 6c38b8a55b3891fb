/**
 * Hybrid logical clock (Kulkarni et al.), SPEC section 5. Wire form `pppp:llll:nnnn`: three
 * lower-case hex groups of 4 to 16 digits: physical ms since the epoch, logical counter, node.
 */
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';

/** One HLC reading. `node` is the node suffix as lower-case hex without leading zeros trimmed. */
export interface HlcTimestamp {
  /** Physical part: ms since the epoch. */
  readonly physical: number;
  /** Logical counter, breaks ties within one physical ms. */
  readonly logical: number;
  /** Node suffix, 4 to 16 lower-case hex digits. */
  readonly node: string;
}

const HLC_PATTERN = /^([0-9a-f]{4,16}):([0-9a-f]{4,16}):([0-9a-f]{4,16})$/;
const MAX_GROUP = 2 ** 53 - 1;

/** Formats a timestamp in the wire form, each group zero-padded to at least 4 digits. */
export function formatHlc(ts: HlcTimestamp): string {
  return `${hex4(ts.physical)}:${hex4(ts.logical)}:${ts.node.padStart(4, '0')}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/**
 * Parses the wire form.
 * @throws InvalidArgumentError naming what is wrong (shape, case, group length, size)
 */
export function parseHlc(text: string): HlcTimestamp {
  const m = HLC_PATTERN.exec(text);
  if (!m) {
    throw new InvalidArgumentError(
      'hlc',
      `'${text}' is not three lower-case hex groups of 4 to 16 digits joined by ':' (like 7ffd:0001:abcd)`,
    );
  }
  const physical = parseInt(m[1]!, 16);
  const logical = parseInt(m[2]!, 16);
  if (physical > MAX_GROUP || logical > MAX_GROUP) {
    throw new InvalidArgumentError('hlc', `'${text}' has a physical or logical part beyond 2^53`);
  }
  return { physical, logical, node: m[3]! };
}

/** Orders two timestamps: physical, then logical, then node. Returns <0, 0 or >0. */
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
 * The node suffix for a node id: the id itself when it is already 4 to 16 lower-case hex
 * digits, else the first 8 hex digits of its SHA-256.
 */
export function hlcNodeSuffix(nodeId: string): string {
  if (/^[0-9a-f]{4,16}$/.test(nodeId)) return nodeId;
  return createHash('sha256').update(nodeId).digest('hex').slice(0, 8);
}

/** Options of {@link Hlc}. */
export interface HlcOptions {
  /** Time source; the physical part comes from clock.wallNow(). @default systemClock */
  clock?: Clock;
  /**
   * A remote clock further ahead of the local wall clock than this is reported, not adopted
   * (the integration guide's alert level). @default 5000
   */
  maxForwardSkewMs?: number;
}

/** Result of merging a remote timestamp with {@link Hlc.update}. */
export interface HlcUpdate {
  /** False when the remote clock was too far ahead and was ignored. */
  readonly adopted: boolean;
  /** Remote physical minus local wall clock, in ms (positive: the remote is ahead). */
  readonly skewMs: number;
  /** The local clock after the update. */
  readonly timestamp: HlcTimestamp;
}

/**
 * A hybrid logical clock. Readings only grow, also when the wall clock steps backwards.
 *
 * ```ts
 * const hlc = new Hlc('pulse-1');
 * const stamp = formatHlc(hlc.now());   // send
 * hlc.update(parseHlc(remoteStamp));    // receive
 * ```
 */
export class Hlc {
  readonly node: string;
  readonly #clock: Clock;
  readonly #maxSkew: number;
  #physical = 0;
  #logical = 0;
  #rejected = 0;

  constructor(nodeId: string, options: HlcOptions = {}) {
    this.node = hlcNodeSuffix(nodeId);
    this.#clock = options.clock ?? systemClock;
    this.#maxSkew = options.maxForwardSkewMs ?? 5000;
  }

  /** A new reading for a local or send event. */
  now(): HlcTimestamp {
    const wall = Math.floor(this.#clock.wallNow());
    if (wall > this.#physical) {
      this.#physical = wall;
      this.#logical = 0;
    } else {
      this.#logical += 1;
    }
    return this.#current();
  }

  /** {@link now} in the wire form. */
  nowString(): string {
    return formatHlc(this.now());
  }

  /**
   * Merges a remote reading (a receive event). A remote physical time more than
   * maxForwardSkewMs ahead of the local wall clock is not adopted; the local clock still
   * ticks, and the result says so.
   */
  update(remote: HlcTimestamp | string): HlcUpdate {
    const r = typeof remote === 'string' ? parseHlc(remote) : remote;
    const wall = Math.floor(this.#clock.wallNow());
    const skewMs = r.physical - wall;
    if (skewMs > this.#maxSkew) {
      this.#rejected += 1;
      return { adopted: false, skewMs, timestamp: this.now() };
    }
    const physical = Math.max(this.#physical, r.physical, wall);
    if (physical === this.#physical && physical === r.physical) {
      this.#logical = Math.max(this.#logical, r.logical) + 1;
    } else if (physical === this.#physical) {
      this.#logical += 1;
    } else if (physical === r.physical) {
      this.#logical = r.logical + 1;
    } else {
      this.#logical = 0;
    }
    this.#physical = physical;
    return { adopted: true, skewMs, timestamp: this.#current() };
  }

  /** The last reading, without ticking. */
  peek(): HlcTimestamp {
    return this.#current();
  }

  /** How many remote readings were refused for being too far ahead. */
  get rejectedCount(): number {
    return this.#rejected;
  }

  #current(): HlcTimestamp {
    return { physical: this.#physical, logical: this.#logical, node: this.node };
  }
}
