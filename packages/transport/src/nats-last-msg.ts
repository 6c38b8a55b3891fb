/**
 * The last message on a subject of a replicated stream, read two ways at once, the first answer
 * winning (docs/spec.md §7 Election, terms and fencing, "Network partitions"):
 * - a direct get (`$JS.API.DIRECT.GET.<stream>`): any copy of the stream answers, and no JetStream
 *   meta leader is needed; but the request may be routed to a copy behind a cut that the servers
 *   have not noticed yet, and then nobody answers;
 * - the stream leader's get through the JetStream API (`$JS.API.STREAM.MSG.GET.<stream>`): the
 *   leader's own view, but the API answers only while its server knows a meta leader, which after
 *   a cut can take seconds (measured: 503 "JetStream system temporarily unavailable" or no answer
 *   for up to 11 s on the majority side while the meta leader was on the cut-off host).
 * Each fails in a partition where the other still answers. A copy can lag the leader: a writer
 * that goes on what it read uses compare-and-set or an expected sequence, so a stale answer costs
 * a refused write, never a wrong one.
 */
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';

/**
 * The stream's last message on `subject`, or null when there is none.
 * @throws the leader read's error when neither read answers (the more telling one: 503 or a timeout)
 */
export async function lastMsgFirstAnswer(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredMsg | null> {
  const q = { last_by_subj: subject };
  const leader = jsm.streams.getMessage(stream, q);
  const direct = jsm.direct.getMessage(stream, q);
  try {
    return await Promise.any([leader, direct]);
  } catch (err) {
    throw err instanceof AggregateError ? err.errors[0] : err;
  }
}
