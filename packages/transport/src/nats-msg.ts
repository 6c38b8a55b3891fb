/** A nats.js message as the Bus hands it on: a frozen BusMsg with plain headers. */
import type { Msg } from '@nats-io/transport-node';
import type { BusMsg, Headers } from './bus.js';
import { fromNatsHeaders, toNatsHeaders } from './nats-headers.js';

/** The BusMsg of a nats.js message; `respond` answers with the given headers. */
export function toBusMsg(m: Msg): BusMsg {
  return Object.freeze({
    subject: m.subject,
    data: m.data,
    headers: fromNatsHeaders(m.headers),
    reply: m.reply || undefined,
    respond: (data: Uint8Array, headers?: Headers) => m.respond(data, { headers: toNatsHeaders(headers) }),
  });
}
