/**
 * What a pulse node counts: the frames it published (their number, publish time, lateness and
 * phase), each change of leader it sees (`backbeat_leadership_changes_total`), and, on the first
 * frame of a term it leads, the grid slots nobody published during the failover
 * (`backbeat_frames_skipped_total{reason="failover"}`; docs/spec.md §7 Election, terms and fencing).
 */
import type { SlotKey, TempoMap } from '@backbeat/core';
import type { PublishedFrame } from './emit/slot-publisher.js';
import type { Leadership } from './lease/leader-elector.js';
import type { PulseMetrics } from './metrics.js';

/** Grid slots strictly between `a` and `b`. */
export function slotsBetween(map: TempoMap, a: SlotKey, b: SlotKey): number {
  const p = map.phases.length;
  return Math.max(0, (b.beatIndex - a.beatIndex) * p + (b.phaseIndex - a.phaseIndex) - 1);
}

/** Counts frames, leadership changes and the slots a failover cost. */
export class NodeCounts {
  /** BeatFrames this node published. */
  published = 0;
  #lastLeaderId: string | null = null;
  /** The term this node leads (0 while it does not). */
  #leadingTerm = 0;
  /** Set when this node starts leading; cleared by the first frame of the term. */
  #newTerm = false;
  /** The last slot on the wire when this term began. */
  #termStartFloor: SlotKey | undefined;

  constructor(private readonly metrics: PulseMetrics) {}

  /**
   * The elector's view changed; `floor` is the last slot on the wire. Returns true when this
   * node begins leading a term (later events of the same term, such as the lease reachable
   * again, change nothing).
   */
  leadership(l: Leadership, floor: SlotKey | undefined): boolean {
    if (l.leaderId !== null && l.leaderId !== this.#lastLeaderId) {
      if (this.#lastLeaderId !== null || l.isLeader) this.metrics.leadershipChanges.inc();
      this.#lastLeaderId = l.leaderId;
    }
    if (!l.isLeader) {
      this.#leadingTerm = 0;
      this.#newTerm = false;
      return false;
    }
    if (l.term === this.#leadingTerm) return false;
    this.#leadingTerm = l.term;
    this.#termStartFloor = floor;
    this.#newTerm = true;
    return true;
  }

  /** A frame of this node went out on `map`: the first of a term counts the slots missed before it. */
  frame(map: TempoMap, f: PublishedFrame): void {
    this.metrics.publishDuration.observe(f.publishMs / 1000);
    this.metrics.jitter.observe(Math.max(0, f.publishedAt - f.scheduledAt) / 1000);
    this.metrics.beatsTotal.inc({ phase: f.phase });
    this.published++;
    const floor = this.#termStartFloor;
    if (this.#newTerm && floor) {
      const missed = slotsBetween(map, floor, f);
      if (missed > 0) this.metrics.framesSkipped.inc({ reason: 'failover' }, missed);
    }
    this.#newTerm = false;
  }
}
