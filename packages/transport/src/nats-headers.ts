/** Header conversion between the bus (plain records) and nats.js, names kept exactly (docs/spec.md §10 Security). */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { Headers } from './bus.js';

/** Our headers as nats.js headers; undefined when there are none. */
export function toNatsHeaders(h: Headers | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const keys = Object.keys(h);
  if (keys.length === 0) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, h[k]!);
  return out;
}

/** nats.js headers as a frozen record (first value of each name; names as sent). */
export function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  const out: Record<string, string> = {};
  if (h) for (const [k, v] of h) if (v.length > 0) out[k] = v[0]!;
  return Object.freeze(out);
}
