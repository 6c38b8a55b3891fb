/** The failover demo of `backbeat dev --pulse-nodes 2`: the leader steps down and comes back as a follower. */
import { Pulse } from '@backbeat/pulse';

/** What POST /api/v1/dev/failover answers. */
export interface FailoverResult {
  /** The node that led and was stopped. */
  readonly stopped: string | null;
  /** The node that took over, or null when none did within the deadline. */
  readonly new_leader: string | null;
  /** The stopped node's new id: it restarts as a follower. */
  readonly restarted_as: string | null;
}

let restarts = 0;

/**
 * Stops the leading pulse in `pulses`, waits (at most `deadlineMs`) for another node to take
 * the lease, then starts a fresh node in the old one's place (`pulse-1` becomes `pulse-1-r1`,
 * so the timeline shows a new node). Replaces the entry of `pulses` in place.
 */
export async function failover(pulses: Pulse[], deadlineMs = 3000): Promise<FailoverResult> {
  const i = pulses.findIndex((p) => p.leaderStatus().is_leader);
  if (i < 0) return { stopped: null, new_leader: null, restarted_as: null };
  const old = pulses[i]!;
  await old.stop();
  const deadline = Date.now() + deadlineMs;
  const other = () => pulses.find((p) => p !== old && p.leaderStatus().is_leader);
  while (!other() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  const next = new Pulse({
    ...old.options,
    registry: undefined,
    nodeId: `${old.options.nodeId.replace(/-r\d+$/, '')}-r${++restarts}`,
  });
  pulses[i] = next;
  await next.start();
  return {
    stopped: old.options.nodeId,
    new_leader: other()?.options.nodeId ?? null,
    restarted_as: next.options.nodeId,
  };
}
