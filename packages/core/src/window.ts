import { createHash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

/**
 * Deterministic window id of a bar (BACKBEAT-REQ-005): the first 32 lower-case hex chars of
 * sha256(cluster_id + ":" + decimal index of the bar's downbeat).
 *
 * @param clusterId the cluster id (a NATS subject token)
 * @param downbeatIndex beat index of the bar's first beat (a multiple of the bar length)
 * @throws InvalidArgumentError when downbeatIndex is not a safe integer >= 0
 */
export function windowId(clusterId: string, downbeatIndex: number): string {
  if (!Number.isSafeInteger(downbeatIndex) || downbeatIndex < 0) {
    throw new InvalidArgumentError('downbeatIndex', `must be an integer >= 0, got ${downbeatIndex}`);
  }
  return createHash('sha256').update(`${clusterId}:${downbeatIndex}`).digest('hex').slice(0, 32);
}

/**
 * Index of the downbeat that opens the bar holding `beatIndex`.
 * @throws InvalidArgumentError on a negative beat or a bar length < 1
 */
export function downbeatOf(beatIndex: number, barLength: number): number {
  if (!Number.isSafeInteger(beatIndex) || beatIndex < 0) {
    throw new InvalidArgumentError('beatIndex', `must be an integer >= 0, got ${beatIndex}`);
  }
  if (!Number.isSafeInteger(barLength) || barLength < 1) {
    throw new InvalidArgumentError('barLength', `must be an integer >= 1, got ${barLength}`);
  }
  return beatIndex - (beatIndex % barLength);
}

/** Window id of the bar holding `beatIndex`. */
export function windowIdForBeat(clusterId: string, beatIndex: number, barLength: number): string {
  return windowId(clusterId, downbeatOf(beatIndex, barLength));
}
