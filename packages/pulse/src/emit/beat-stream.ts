/**
 * The beat stream (docs/spec.md §7 Election, terms and fencing, "Server-checked fencing"): with
 * `--beat-fencing server` the leader writes each BeatFrame (and legacy control message) into a
 * per-cluster stream, with the writer's last acknowledged sequence as the expected last
 * sequence; the stream republishes what it stores to the beat and control subjects that
 * subscribers read. A stale writer's frame is refused by the server, and a stream without
 * quorum stores (and so republishes) nothing.
 */
import { assertClusterId, lastMsgFirstAnswer, type NatsBus } from '@backbeat/transport';
import { parseTermHeader, TERM_HEADER } from '@backbeat/contracts';
import {
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from '@nats-io/jetstream';

/** The stream and its input subjects of one cluster. */
export interface BeatStreamNames {
  /** Stream name: `BACKBEAT_<cluster>_BEAT`. */
  readonly stream: string;
  /** Where the leader writes BeatFrames: `backbeat.<cluster>.fenced.beat` (republished to `.beat`). */
  readonly beatIn: string;
  /** Where the leader writes legacy control messages (republished to `.control`). */
  readonly controlIn: string;
}

/** The beat stream's names for `clusterId`. @throws InvalidArgumentError for a bad cluster id */
export function beatStreamNames(clusterId: string): BeatStreamNames {
  assertClusterId(clusterId);
  return Object.freeze({
    stream: `BACKBEAT_${clusterId}_BEAT`,
    beatIn: `backbeat.${clusterId}.fenced.beat`,
    controlIn: `backbeat.${clusterId}.fenced.control`,
  });
}

/** The last frame the stream holds: its sequence and the term of its writer (0: none or no term). */
export interface LastBeat {
  readonly seq: number;
  readonly term: number;
}

/** JetStream API error codes this file tells apart. */
const STREAM_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** Opens the JetStream API of the bus's connection (no API check: the pulse role may not ask for account info). */
export function beatStreamManager(bus: NatsBus, timeoutMs: number): Promise<JetStreamManager> {
  return jetstreamManager(bus.nc, { checkAPI: false, timeout: timeoutMs });
}

/**
 * Creates the beat stream, or brings an existing one to this configuration: one message kept
 * per subject (a frame is worth nothing once its slot passed; file storage, so that the last
 * sequence survives a restart of a single server), `replicas` copies (as the cluster's other
 * state), republished to the beat and control subjects.
 * @throws the server's error when it cannot (no JetStream, no permission, replicas it cannot place)
 */
export async function ensureBeatStream(jsm: JetStreamManager, clusterId: string, replicas: number): Promise<void> {
  const n = beatStreamNames(clusterId);
  const config = {
    name: n.stream,
    subjects: [n.beatIn, n.controlIn],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
    allow_direct: true,
    duplicate_window: 1_000_000_000,
    republish: { src: `backbeat.${clusterId}.fenced.*`, dest: `backbeat.${clusterId}.{{wildcard(1)}}` },
  };
  try {
    await jsm.streams.add(config);
  } catch (err) {
    if (apiCode(err) !== STREAM_IN_USE) throw err;
    await jsm.streams.update(n.stream, config);
  }
}

/**
 * The last BeatFrame the stream holds, or `{ seq: 0, term: 0 }` when it holds none: the first
 * answer of the stream leader (through the JetStream API, which needs a meta leader) and of any
 * copy (a direct get, which may be routed to a copy behind a cut), so a partition that silences
 * one path leaves the other (`lastMsgFirstAnswer`). A copy that lags can answer an older frame:
 * a write on it is refused, never wrongly stored, and the next read is tried.
 * @throws when neither answers
 */
export async function readLastBeat(jsm: JetStreamManager, clusterId: string): Promise<LastBeat> {
  const n = beatStreamNames(clusterId);
  const m = await lastMsgFirstAnswer(jsm, n.stream, n.beatIn);
  if (!m) return { seq: 0, term: 0 };
  return { seq: m.seq, term: parseTermHeader(m.header.get(TERM_HEADER) || undefined) ?? 0 };
}

/**
 * Makes the beat stream again when it is gone (a single server restarted without its store, an
 * operator deleted it); false when it was there.
 * @throws when the server does not answer
 */
export async function repairBeatStream(jsm: JetStreamManager, clusterId: string, replicas: number): Promise<boolean> {
  try {
    await jsm.streams.info(beatStreamNames(clusterId).stream);
    return false;
  } catch (err) {
    if (apiCode(err) !== STREAM_NOT_FOUND) throw err;
    await ensureBeatStream(jsm, clusterId, replicas);
    return true;
  }
}
