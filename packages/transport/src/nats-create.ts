/**
 * Creating a stream (or a KV bucket, whose stream it is) that another client may be creating
 * at the same moment. On a JetStream cluster the meta leader answers only the first of two
 * identical concurrent create requests: the second is proposed as an equal assignment that
 * takes over the first one's "responded" mark (nats-server 2.14 `processStreamAssignment`), so
 * its reply never comes and the caller would wait out the whole JetStream timeout (5 s), once
 * per stream. Here a create waits a short time, and on a timeout asks whether the stream exists
 * now: it usually does, because the other create made it. Creates are idempotent, so a create
 * that was only slow costs one more round trip, never a second stream. Right after a create
 * succeeded, a server may still report the stream missing for a moment: reads then wait too.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { TimeoutError } from './errors.js';
import { mapNatsError } from './nats-errors.js';

/** JetStream API error code of "subjects overlap with an existing stream". */
const SUBJECTS_OVERLAP = 10065;

/** How long a create request waits for its answer before the stream is looked up instead. */
export const CREATE_TIMEOUT_MS = 1000;

/** A JetStream manager whose calls wait {@link CREATE_TIMEOUT_MS}: for create requests only. */
export function createManager(nc: NatsConnection): Promise<JetStreamManager> {
  return jetstreamManager(nc, { timeout: CREATE_TIMEOUT_MS });
}

/**
 * Runs `create`; when its answer does not come in time (or, on 2.9, says the subjects overlap), looks
 * the stream up (with the normal manager) a few times over about a second and returns normally once
 * it exists.
 * @throws the create's error when it is neither, or when the stream never appears
 */
export async function createOrFind(
  jsm: JetStreamManager,
  stream: string,
  create: () => Promise<unknown>,
): Promise<void> {
  try {
    await create();
    return;
  } catch (err) {
    const timedOut = mapNatsError(err, { operation: `create '${stream}'` }) instanceof TimeoutError;
    // nats-server 2.9 can answer the loser of two identical concurrent creates "subjects overlap with
    // an existing stream": the winner's. Found when that stream is this one; another stream's overlap is thrown.
    const overlap = (err as { code?: unknown }).code === SUBJECTS_OVERLAP;
    if (!timedOut && !overlap) throw err;
    for (let i = 0; i < 4; i++) {
      try {
        await jsm.streams.info(stream);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw err;
  }
}

/** How long a bucket just created may still be reported missing (see whileJustCreated). */
const JUST_CREATED_MS = 3000;

/**
 * Runs a read of a bucket's stream right after `Kvm.create` succeeded, again (every 100 ms, for
 * at most JUST_CREATED_MS) while the server answers "stream not found": with several services
 * creating one replicated bucket at once, a server may answer before the cluster's meta layer
 * has the stream (seen on nats-server 2.14.10 with two pulses starting together on three nodes;
 * docs/spec.md §12 Known pitfalls). Any other error, or the same one after that, is thrown.
 */
export async function whileJustCreated<T>(read: () => Promise<T>): Promise<T> {
  const until = Date.now() + JUST_CREATED_MS;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!/stream not found/i.test((err as Error)?.message ?? '') || Date.now() >= until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
