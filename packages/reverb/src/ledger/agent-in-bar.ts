/** One agent's claims in one bar, kept small: its flags, last state and the HLCs counted. */
import type { ClaimState, StatusClaim } from '@backbeat/contracts';

export const HELPED = 1;
export const FULFILLED = 2;
export const ON_TIME_REVIEW = 4;
export const FAILED = 8;
export const BLOCKED = 16;

/**
 * A 53-bit hash of an HLC string (two FNV-1a variants): what an agent's counted claims are
 * remembered by, 8 bytes each instead of a string. Two different HLCs of one agent in one bar
 * collide with a probability of about n^2 / 2^53.
 */
function hlcHash(hlc: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < hlc.length; i++) {
    const c = hlc.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
}

/** One agent in one bar, kept small (BACKBEAT-PER: about 0.5 KB per agent in an open window). */
export class AgentInBar {
  /** State at each beat of the bar (index: beat - fromBeat), for the dashboard. */
  readonly byBeat: Array<ClaimState | undefined> = [];
  lastState: ClaimState;
  lastBeat: number;
  lastHlc: string;
  flags = 0;
  /** Hashes of the HLCs counted, and the stream sequence each came in (0: none known). */
  readonly hashes: number[] = [];
  readonly seqs: number[] = [];

  constructor(claim: StatusClaim) {
    this.lastState = claim.state;
    this.lastBeat = claim.beat_index;
    this.lastHlc = claim.hlc;
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  seqOf(hlc: string): number | undefined {
    const i = this.hashes.indexOf(hlcHash(hlc));
    return i < 0 ? undefined : this.seqs[i];
  }

  remember(hlc: string, seq: number): void {
    this.hashes.push(hlcHash(hlc));
    this.seqs.push(seq);
  }
}
