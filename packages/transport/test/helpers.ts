/** Shared bits of the transport tests. */
import type { Bus } from '@backbeat/transport';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
let counter = 0;
/** A name no other test of the run uses (streams and buckets outlive a test on the broker). */
export const unique = (prefix: string): string => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;

/** Clients of one broker: a nats-server, or a MemoryBroker. */
export interface BusFactory {
  /** A new client of the broker. */
  open(): Promise<Bus>;
  /** Stops the broker (after the suite has closed its clients). */
  teardown(): Promise<void>;
}

/** What the suites share: two clients of one broker. */
export interface Clients {
  a: Bus;
  b: Bus;
  factory: BusFactory;
}
