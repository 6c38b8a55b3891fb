/**
 * When a follower may take over a lease that was not renewed (docs/spec.md §7 Election, terms
 * and fencing): once its holder must have fenced itself. The holder stops publishing at its last
 * acknowledged renewal's send time + TTL − fence margin; that send time is before the server's
 * write time `created`; clocks differ from the servers' by at most the clock-offset bound. The
 * takeover itself is a compare-and-set on the seen revision (campaign.ts).
 */

/** What a takeover waits beyond the holder's fence and the clock-offset bound: timer and request latency. */
export const TAKEOVER_SAFETY_MS = 50;

/** The wall-clock time from which a lease written at `created` and not renewed since may be taken over. */
export function takeoverDueAt(
  created: number,
  ttlMs: number,
  fenceMarginMs: number,
  clockOffsetBoundMs: number,
): number {
  return created + ttlMs - fenceMarginMs + 2 * clockOffsetBoundMs + TAKEOVER_SAFETY_MS;
}
