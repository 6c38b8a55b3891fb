/**
 * Dead letters (`backbeat.C.dlq`, docs/spec.md §3 Subjects and shared state and §10 Security):
 * messages reverb refused, with the reason in the `x-reason` header. Read back from the cluster's
 * dead-letter stream, or followed live.
 */
import { AGENT_ID_HEADER, ERROR_HEADER, REASON_HEADER, WINDOW_ID_HEADER } from '@backbeat/contracts';
import {
  decodeJson,
  dlqStreamConfig,
  JetStreamNotFoundError,
  subjects,
  type Bus,
  type Headers,
} from '@backbeat/transport';

/** One dead letter, as a person reads it. */
export interface DeadLetter {
  /** When it was refused (stored, or received when followed live), RFC 3339. */
  readonly time: string;
  /** Stream sequence, for stored letters. */
  readonly seq?: number;
  /** `x-reason`: forged, unsigned, replayed, malformed, invalid ... */
  readonly reason: string;
  /** `x-error`: the sentence that says what was wrong. */
  readonly error: string;
  /** `x-agent-id`, else the payload's agent_id, else null. */
  readonly agent_id: string | null;
  readonly window_id: string | null;
  /** The payload's first characters (control characters shown as spaces). */
  readonly payload: string;
  /** Payload size in bytes. */
  readonly bytes: number;
}

/** Payload characters kept in {@link DeadLetter.payload}. */
export const PAYLOAD_CHARS = 120;

/** Characters kept of a header or id from the message (`x-agent-id`, `x-reason`, `x-error` ...). */
export const FIELD_CHARS = 256;

/** `s` cut to `max` characters, an ellipsis marking the cut. */
function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const dec = new TextDecoder();

/** The dead letter of one message on the dead-letter subject. */
export function deadLetterOf(data: Uint8Array, headers: Headers, timeMs: number, seq?: number): DeadLetter {
  const text = dec.decode(data.subarray(0, 4 * PAYLOAD_CHARS));
  let agent = headers[AGENT_ID_HEADER] ?? null;
  if (agent === null) {
    try {
      const v = decodeJson<{ agent_id?: unknown }>(data);
      if (typeof v?.agent_id === 'string') agent = v.agent_id;
    } catch {
      // not JSON: no agent id to show
    }
  }
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return {
    time: new Date(timeMs).toISOString(),
    ...(seq !== undefined ? { seq } : {}),
    reason: clip(headers[REASON_HEADER] ?? 'unknown', FIELD_CHARS),
    error: clip(headers[ERROR_HEADER] ?? '', 4 * FIELD_CHARS),
    agent_id: agent === null ? null : clip(agent, FIELD_CHARS),
    window_id: headers[WINDOW_ID_HEADER] === undefined ? null : clip(headers[WINDOW_ID_HEADER], FIELD_CHARS),
    payload: flat.length > PAYLOAD_CHARS ? `${flat.slice(0, PAYLOAD_CHARS - 1)}…` : flat,
    bytes: data.length,
  };
}

/** The last `limit` stored dead letters, oldest first; null when the cluster keeps no dead-letter stream. */
export async function readDeadLetters(bus: Bus, clusterId: string, limit: number): Promise<DeadLetter[] | null> {
  try {
    const msgs = await bus.readStream({ stream: dlqStreamConfig(clusterId).name, last: true, limit });
    return msgs.map((m) => deadLetterOf(m.data, m.headers, m.time, m.seq));
  } catch (err) {
    if (err instanceof JetStreamNotFoundError) return null;
    throw err;
  }
}

/** Calls `cb` with each dead letter as it is published; returns the unsubscribe function. */
export function followDeadLetters(bus: Bus, clusterId: string, cb: (letter: DeadLetter) => void): () => void {
  const sub = bus.subscribe(subjects(clusterId).dlq, (m) => cb(deadLetterOf(m.data, m.headers, Date.now())));
  return () => sub.unsubscribe();
}
