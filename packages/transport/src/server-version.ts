/**
 * Which nats-server releases BACKBEAT runs on, and what each can give the lease.
 *
 * - The lease renewal and the term counter are KV updates with an expected revision. Before
 *   2.9.21 (and 2.10.0) two such updates with the same expected revision could both succeed on
 *   a replicated bucket (nats-server issue 4320): fencing does not hold there. A service that
 *   would keep replicated state on such a server refuses to start.
 * - On one server that bug cannot strike, but the 2.9 line has ended: one warning line.
 * - Limit markers (a delete marker when a key expires by the bucket's TTL, proposed by the
 *   stream leader through Raft) come with 2.11.7; an existing stream takes them by an update
 *   from 2.11.5.
 *
 * See docs/spec.md §7 Election, terms and fencing and §12 Known pitfalls.
 */
import type { Logger } from '@backbeat/core';
import type { Bus } from './bus.js';
import { ServerVersionError } from './errors.js';
import { NatsBus } from './nats-bus.js';

/** The first release whose compare-and-set holds on a replicated bucket. */
export const MIN_CLUSTERED_VERSION = '2.9.21';
/** The first release of a line that is still kept. */
export const MIN_SUPPORTED_VERSION = '2.10.0';
/** The first release that writes limit markers (`subject_delete_marker_ttl`). */
export const MIN_MARKER_VERSION = '2.11.7';

/** Compares dotted versions numerically (`2.9.21` < `2.10.0`): negative, 0 or positive. */
export function compareServerVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function parts(v: string): number[] {
  return v
    .replace(/^v/, '')
    .split(/[.-]/)
    .slice(0, 3)
    .map((p) => Number.parseInt(p, 10) || 0);
}

/** What the rule says of a server: run, run with one warning line, or refuse with one line. */
export type ServerVersionVerdict =
  | { kind: 'ok' }
  | { kind: 'warn'; message: string }
  | { kind: 'refuse'; message: string };

/**
 * The rule, pure: `version` as the server reports it, `replicas` the copies this service keeps.
 * Replicas above 1 need a compare-and-set that holds (2.9.21 or newer).
 */
export function serverVersionVerdict(version: string, replicas: number): ServerVersionVerdict {
  if (replicas > 1 && compareServerVersions(version, MIN_CLUSTERED_VERSION) < 0) {
    return {
      kind: 'refuse',
      message:
        `nats-server ${version} is too old for replicated state (${replicas} ` +
        `replicas): before ${MIN_CLUSTERED_VERSION} ` +
        'two KV updates with the same expected revision can both succeed (nats-server issue 4320), so the lease ' +
        'cannot fence; upgrade the cluster (2.14.10 is tested)',
    };
  }
  if (compareServerVersions(version, MIN_SUPPORTED_VERSION) < 0) {
    return {
      kind: 'warn',
      message: `nats-server ${version}: the 2.9 line has ended; upgrade to 2.10 or newer (2.14.10 is tested)`,
    };
  }
  return { kind: 'ok' };
}

/** The version of the server the bus is connected to; undefined on the in-memory bus. */
export function serverVersionOf(bus: Bus): string | undefined {
  return bus instanceof NatsBus ? bus.serverVersion : undefined;
}

/** True when the connected server writes limit markers (and a stream update can turn them on). */
export function supportsLimitMarkers(bus: Bus): boolean {
  const v = serverVersionOf(bus);
  return v !== undefined && compareServerVersions(v, MIN_MARKER_VERSION) >= 0;
}

/**
 * Applies the rule at start: logs the warning line, or throws.
 * @throws ServerVersionError (BB_ERR_SERVER_VERSION) with the one line when the server is too old
 */
export function assertServerVersion(bus: Bus, replicas: number, logger: Logger): void {
  const version = serverVersionOf(bus);
  if (version === undefined) return;
  const verdict = serverVersionVerdict(version, replicas);
  if (verdict.kind === 'refuse') throw new ServerVersionError(version, verdict.message);
  if (verdict.kind === 'warn') logger.warn({ nats_server: version }, verdict.message);
}
