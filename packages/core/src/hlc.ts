/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014), docs/spec.md §6 Hybrid
 * logical clock. Every message a component sends carries `hlc.now()`; every message it receives
 * goes through `hlc.update(remote)`. Readings only grow, also when the wall clock steps backwards, and a
 * remote clock too far ahead is reported, not adopted.
 */
import { systemClock, type Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import { formatHlc, HLC_MAX_COUNTER, hlcNodeSuffix, parseHlc, type HlcTimestamp } from './hlc-wire.js';

/** Options of {@link Hlc}. */
export interface HlcOptions {
  /** Time source; the physical part comes from clock.wallNow(). @default systemClock */
  clock?: Clock;
  /**
   * A remote physical time further ahead of the local wall clock than this is reported and
   * not adopted (docs/spec.md §6 Hybrid logical clock; the integration guide's alert level).
   * @default 5000
   */
  maxForwardSkewMs?: number;
}

/** Result of {@link Hlc.update}. */
export interface HlcUpdate {
  /**
   * False when the remote physical time was more than maxForwardSkewMs ahead of the local
   * wall clock (and ahead of the local HLC): it was ignored and only the local clock ticked.
   */
  readonly adopted: boolean;
  /** Remote physical time minus the local wall clock, in ms (positive: the remote is ahead). */
  readonly skewMs: number;
  /**
   * The local reading after the update: later than the local one before it, and later than the remote one when adopted.
   */
  readonly timestamp: HlcTimestamp;
}

/**
 * A hybrid logical clock for one node.
 *
 * ```ts
 * const hlc = new Hlc('pulse-1', { clock });
 * frame.hlc = hlc.nowString();                     // send
 * const u = hlc.update(incoming.hlc);              // receive
 * if (!u.adopted) log.warn({ skewMs: u.skewMs }, 'remote clock too far ahead');
 * ```
 */
export class Hlc {
  /** This node's suffix, 4 to 16 lower-case hex digits (see {@link hlcNodeSuffix}). */
  readonly node: string;
  /** The bound beyond which a remote clock is not adopted, in ms. */
  readonly maxForwardSkewMs: number;
  readonly #clock: Clock;
  /** The node group of the wire form, as formatHlc writes it. */
  readonly #nodeWire: string;
  /** `:0000:` and the node group: the wire form after the physical part when logical is 0. */
  readonly #tail0: string;
  #physical = 0;
  #logical = 0;
  #rejected = 0;

  /**
   * @param nodeId a node id; hashed to a suffix unless it is already 4 to 16 hex digits
   * @throws InvalidArgumentError on an empty node id or a negative or non-finite bound
   */
  constructor(nodeId: string, options: HlcOptions = {}) {
    if (typeof nodeId !== 'string' || nodeId === '')
      throw new InvalidArgumentError('nodeId', 'must be a non-empty string');
    const bound = options.maxForwardSkewMs ?? 5000;
    if (!(Number.isFinite(bound) && bound >= 0)) {
      throw new InvalidArgumentError('maxForwardSkewMs', `must be a finite number of ms >= 0, got ${bound}`);
    }
    this.node = hlcNodeSuffix(nodeId);
    this.#nodeWire = formatHlc({ physical: 0, logical: 0, node: this.node }).slice(10);
    this.#tail0 = `:0000:${this.#nodeWire}`;
    this.maxForwardSkewMs = bound;
    this.#clock = options.clock ?? systemClock;
  }

  /** A new reading for a local or send event: strictly later than every earlier one. */
  now(): HlcTimestamp {
    this.#tick();
    return this.peek();
  }

  /**
   * {@link now} in the wire form (what formatHlc(now()) gives). It is on the SDK's per-client
   * hot path (a grid slot stamps every client's frame in the same ms), so it formats without
   * re-validating its own parts and shares the physical part's hex across the process's clocks.
   */
  nowString(): string {
    this.#tick();
    const logical = this.#logical;
    if (logical === 0) return physicalHex(this.#physical) + this.#tail0;
    return `${physicalHex(this.#physical)}:${logical.toString(16).padStart(4, '0')}:${this.#nodeWire}`;
  }

  #tick(): void {
    const wall = this.#wall();
    if (wall > this.#physical) this.#set(wall, 0);
    else this.#set(this.#physical, this.#logical + 1);
  }

  /**
   * Merges a remote reading (a receive event). A remote physical time more than
   * maxForwardSkewMs ahead of the local wall clock is not adopted, unless the local HLC is
   * already past it: the local clock still ticks, the refusal is counted in
   * {@link rejectedCount}, and the result says `adopted: false` so the caller can report it.
   * @throws InvalidArgumentError when `remote` is not a valid HLC (string or object)
   */
  update(remote: HlcTimestamp | string): HlcUpdate {
    const r = typeof remote === 'string' ? parseRemote(remote) : parseHlc(formatHlc(remote));
    const wall = this.#wall();
    const skewMs = r.physical - wall;
    if (r.physical > this.#physical && skewMs > this.maxForwardSkewMs) {
      this.#rejected += 1;
      return { adopted: false, skewMs, timestamp: this.now() };
    }
    const physical = Math.max(this.#physical, r.physical, wall);
    let logical: number;
    if (physical === this.#physical && physical === r.physical) logical = Math.max(this.#logical, r.logical) + 1;
    else if (physical === this.#physical) logical = this.#logical + 1;
    else if (physical === r.physical) logical = r.logical + 1;
    else logical = 0;
    this.#set(physical, logical);
    return { adopted: true, skewMs, timestamp: this.peek() };
  }

  /** The last reading, without ticking. */
  peek(): HlcTimestamp {
    return { physical: this.#physical, logical: this.#logical, node: this.node };
  }

  /** How many remote readings were refused for being too far ahead. */
  get rejectedCount(): number {
    return this.#rejected;
  }

  #wall(): number {
    return Math.floor(this.#clock.wallNow());
  }

  #set(physical: number, logical: number): void {
    // The logical counter cannot reach 2^53 in practice (it resets every ms); if it ever
    // did, moving the physical part one ms ahead keeps readings growing and representable.
    if (logical > HLC_MAX_COUNTER) {
      physical += 1;
      logical = 0;
    }
    this.#physical = physical;
    this.#logical = logical;
  }
}

let hexOf = -1;
let hex = '';
/** The physical part's hex (padded to 4 digits), remembered for the last ms asked about. */
function physicalHex(physical: number): string {
  if (physical !== hexOf) {
    hex = physical.toString(16).padStart(4, '0');
    hexOf = physical;
  }
  return hex;
}

let parsedText: string | undefined;
let parsed: HlcTimestamp | undefined;
/**
 * parseHlc, remembered for the last text: every client of a process merges the same frame's
 * HLC (the object stays inside {@link Hlc.update}, which only reads it).
 */
function parseRemote(text: string): HlcTimestamp {
  if (text === parsedText && parsed) return parsed;
  const ts = parseHlc(text);
  parsedText = text;
  parsed = ts;
  return ts;
}
