/**
 * The shell of the placement rule (placement.ts; docs/spec.md §7 Election, terms and fencing,
 * "Stream placement"): while this node leads, it reads the stream info of each beat-critical
 * stream when it takes the lease and then every few seconds, and asks a stream whose leader
 * breaks one of its rules (led by this node's own NATS server; led by the lease stream's leader)
 * to step down (`$JS.API.STREAM.LEADER.STEPDOWN.<stream>`, an empty request: nats-server 2.9
 * refuses any body, 2.11+ would take a preferred peer but picks a healthy caught-up one by
 * itself). The request goes out just after a lease renewal was answered, so the lease has most of
 * its TTL left while the stream moves; renewals in the gap get "no responders", which the
 * KV-outage grace covers (outage.ts). One step-down per round, one line and one count each.
 */
import type { Clock, Logger, TimerHandle } from '@backbeat/core';
import { clusterNames, NatsBus, type Bus } from '@backbeat/transport';
import { beatStreamNames } from '../emit/beat-stream.js';
import type { Leadership } from './leader-elector.js';
import {
  afterLook,
  AVOID_OWN_SERVER,
  afterPause,
  afterStepDown,
  FRESH_RECORD,
  gateStepDownAnswer,
  gateStreamInfo,
  judge,
  placementRules,
  type PlacedStream,
  type PlacementRules,
  type StreamLook,
  type StreamRecord,
} from './placement.js';

/**
 * The streams the beat cannot do without, and what each one's leader avoids: whoever leads the
 * lease or state stream is on the path of every lease renewal and takeover, so they avoid the
 * leading pulse's own server; the beat stream (`--beat-fencing server`) avoids the lease stream's
 * leader, so one kill is never both the lease's outage grace and a beat stream election. It does
 * not avoid the pulse's own server: cut off with that host, the majority's new leader publishes
 * directly while its beat stream elects (the direct fallback), and two rules on three copies would
 * leave one allowed server for an empty step-down to find. The lease stream comes first: the beat
 * stream's rule reads its leader from the same round. A stream joins here with one line.
 */
export function beatCriticalStreams(clusterId: string, beatStream: boolean): PlacedStream[] {
  const n = clusterNames(clusterId);
  const lease = `KV_${n.leaseBucket}`;
  const streams: PlacedStream[] = [
    { stream: lease, avoid: [AVOID_OWN_SERVER] }, // the lease: renewal, takeover
    { stream: `KV_${n.stateBucket}`, avoid: [AVOID_OWN_SERVER] }, // the term counter and the tempo map
  ];
  if (beatStream)
    streams.push({
      stream: beatStreamNames(clusterId).stream,
      avoid: [{ kind: 'leader-of', stream: lease, reason: 'with-lease' }],
    });
  return streams;
}

/** Options of {@link StreamPlacement}. */
export interface StreamPlacementOptions {
  /** A NATS bus (on another bus there is no placement to keep). */
  readonly bus: Bus;
  /** The streams and what each one's leader avoids, in order of importance. */
  readonly streams: readonly PlacedStream[];
  /** The lease TTL (the bucket's). */
  readonly ttlMs: number;
  /** The elector's view now: whether this node leads, its term, its last renewal. */
  readonly leadership: () => Leadership;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for each step-down the server carried out (the metric). */
  readonly onStepDown: (stream: string, reason: string) => void;
  /** Time between two looks while nothing moved. @default 3000 */
  readonly checkEveryMs?: number;
  /** Time from a step-down to the next look. @default 1000 */
  readonly followUpMs?: number;
  /** Timeout of each stream info or step-down request. @default 2000 */
  readonly requestTimeoutMs?: number;
}

/** Poll period while waiting for a fresh lease renewal. */
const RENEWAL_POLL_MS = 25;

/** Keeps the beat-critical streams' leaders off what they avoid while this node leads. */
export class StreamPlacement {
  readonly rules: PlacementRules;
  readonly #o: StreamPlacementOptions;
  /** The term this node leads and works for; 0 while it does not lead. */
  #term = 0;
  #records = new Map<string, StreamRecord>();
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(o: StreamPlacementOptions) {
    this.#o = o;
    this.rules = placementRules(o.ttlMs);
  }

  /** The elector's view changed: a new term this node leads starts the looks, anything else stops them. */
  leadership(l: Leadership): void {
    const term = l.isLeader ? l.term : 0;
    if (term === this.#term || this.#stopped) return;
    this.#term = term;
    this.#records = new Map();
    this.#cancel();
    if (term > 0) this.#schedule(0);
  }

  /** Stops looking; a round in progress ends at its next step. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#term = 0;
    this.#cancel();
    await this.#running;
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    this.#cancel();
    const term = this.#term;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#running || !this.#leads(term)) return;
      this.#running = this.#round(term)
        .catch((err: unknown) => this.#o.logger.warn({ err: (err as Error).message }, 'stream placement round failed'))
        .finally(() => {
          this.#running = undefined;
          // The next look: a term begun meanwhile looks at once, this one after the period.
          if (this.#leads(this.#term) && this.#timer === undefined) {
            this.#schedule(this.#term === term ? (this.#o.checkEveryMs ?? 3000) : 0);
          }
        });
    }, ms);
  }

  #leads(term: number): boolean {
    if (this.#stopped || term === 0 || this.#term !== term) return false;
    const l = this.#o.leadership();
    return l.isLeader && l.term === term;
  }

  /** The server this node's connection is on (INFO `server_name`), which changes on a reconnect. */
  #ownServer(): string | undefined {
    const bus = this.#o.bus;
    return bus instanceof NatsBus ? bus.nc.info?.server_name : undefined;
  }

  #renewalAgeMs(): number | null {
    const at = this.#o.leadership().lastRenewalAt;
    return at == null ? null : this.#o.clock.wallNow() - at;
  }

  /** One look at every stream, and at most one step-down. */
  async #round(term: number): Promise<void> {
    const leaders = new Map<string, string | undefined>();
    for (const { stream, avoid } of this.#o.streams) {
      if (!this.#leads(term)) return;
      const look = await this.#look(stream);
      if (!look || !this.#leads(term)) continue;
      leaders.set(stream, look.leader);
      const own = this.#ownServer();
      const before = this.#records.get(stream) ?? FRESH_RECORD;
      let record = afterLook(before, look, avoid, own, leaders);
      if (record !== before)
        this.#o.logger.debug({ stream, leader: look.leader }, 'stream leader breaks none of its rules now');
      const input = (): Parameters<typeof judge>[0] => ({
        now: this.#o.clock.now(),
        look,
        avoid,
        ownServer: own,
        leaders,
        record,
        renewalAgeMs: this.#renewalAgeMs(),
        rules: this.rules,
      });
      let verdict = judge(input());
      if (verdict.kind === 'wait-renewal') {
        if (!(await this.#freshRenewal(term))) {
          this.#o.logger.debug({ stream }, 'no fresh lease renewal: stream placement waits for the next look');
          continue;
        }
        verdict = judge(input());
      }
      if (verdict.kind === 'pause') {
        record = afterPause(record, this.#o.clock.now(), this.rules);
        this.#records.set(stream, record);
        const fields = {
          stream,
          server: look.leader,
          attempts: this.rules.maxAttempts,
          pause_ms: this.rules.pauseMs,
        };
        this.#o.logger.warn(
          fields,
          'the stream leader stays where its placement avoids after step-downs; leaving it for a while',
        );
        continue;
      }
      this.#records.set(stream, record);
      if (verdict.kind !== 'step-down') continue;
      this.#records.set(stream, afterStepDown(record, this.#o.clock.now()));
      if (await this.#stepDown(stream, look.leader!, term, verdict.reason)) {
        this.#schedule(this.#o.followUpMs ?? 1000);
        return;
      }
    }
  }

  /**
   * Waits (up to half the TTL) until the lease answered within the rule's freshness; false when it
   * did not, or this node stopped leading.
   */
  async #freshRenewal(term: number): Promise<boolean> {
    const { clock } = this.#o;
    const until = clock.now() + this.#o.ttlMs / 2;
    while (this.#leads(term) && clock.now() < until) {
      const age = this.#renewalAgeMs();
      if (age !== null && age <= this.rules.freshRenewalMs) return true;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, RENEWAL_POLL_MS));
    }
    return false;
  }

  /** The stream's info, or null (not answered, or refused by its gate: one debug line). */
  async #look(stream: string): Promise<StreamLook | null> {
    try {
      const msg = await this.#o.bus.request(`$JS.API.STREAM.INFO.${stream}`, new Uint8Array(0), {
        timeoutMs: this.#timeout(),
      });
      const g = gateStreamInfo(stream, msg.data);
      if (g.ok) return g.value;
      this.#o.logger.debug({ stream, reason: g.reason }, 'stream info refused');
    } catch (err) {
      this.#o.logger.debug({ stream, err: (err as Error).message }, 'stream info not answered');
    }
    return null;
  }

  /** Asks `stream`'s leader to step down: true when the server says it did. */
  async #stepDown(stream: string, server: string, term: number, reason: string): Promise<boolean> {
    const { logger } = this.#o;
    const subject = `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`;
    try {
      const msg = await this.#o.bus.request(subject, new Uint8Array(0), { timeoutMs: this.#timeout() });
      const g = gateStepDownAnswer(msg.data);
      if (!g.ok) {
        logger.warn({ stream, server, reason: g.reason }, 'the stream leader did not step down');
        return false;
      }
    } catch (err) {
      logger.warn({ stream, server, err: (err as Error).message }, 'the stream leader did not step down');
      return false;
    }
    this.#o.onStepDown(stream, reason);
    const why = reason === 'colocated' ? "this leader's NATS server" : `a server its placement avoids (${reason})`;
    logger.info(
      { stream, server, term, reason },
      `asked the stream's leader to step down: it ran on ${why} (docs/spec.md §7 Election, terms and fencing)`,
    );
    return true;
  }

  #timeout(): number {
    return this.#o.requestTimeoutMs ?? 2000;
  }
}

/**
 * The placement a pulse node runs: none with `--stream-placement off`, without a KV lease, off a
 * NATS bus, or with unreplicated buckets (one server: nothing to move). The beat stream joins
 * unless `--beat-fencing sender` (there is none then).
 */
export function openStreamPlacement(i: {
  readonly options: {
    readonly bus: Bus;
    readonly clusterId: string;
    readonly streamPlacement: 'off' | 'away-from-leader';
    readonly beatFencing: 'server' | 'sender' | undefined;
    readonly clock: Clock;
    readonly logger: Logger;
  };
  /** Copies of the buckets this node opened. */
  readonly replicas: number;
  /** The lease bucket's TTL (null without a KV lease). */
  readonly leaseTtlMs: number | null;
  readonly leadership: () => Leadership;
  readonly onStepDown: (stream: string, reason: string) => void;
}): StreamPlacement | undefined {
  const { bus, clusterId, streamPlacement, clock, logger } = i.options;
  if (streamPlacement === 'off' || i.leaseTtlMs === null || i.replicas <= 1 || !(bus instanceof NatsBus))
    return undefined;
  const streams = beatCriticalStreams(clusterId, i.options.beatFencing !== 'sender');
  const { leadership, onStepDown } = i;
  return new StreamPlacement({ bus, streams, ttlMs: i.leaseTtlMs, leadership, clock, logger, onStepDown });
}
