/**
 * One nats-server for a test file, with the buses and pulses the file makes: registered in
 * beforeAll/afterAll, so every pulse, bus and the server are stopped also when a test fails.
 */
import { afterAll, beforeAll } from 'vitest';
import { NatsServer } from '@backbeat/testing';
import { NatsBus } from '@backbeat/transport';
import type { Pulse } from '@backbeat/pulse';

/** What {@link useNatsFixture} gives a test file. */
export interface NatsFixture {
  /** The server's client URL (valid once beforeAll ran). */
  readonly url: string;
  /** The server itself, e.g. to restart it (valid once beforeAll ran). */
  readonly server: NatsServer;
  /** A new connection, closed after the file. */
  bus(): Promise<NatsBus>;
  /** Stops `pulse` after the file (before the buses close); returns it. */
  track<P extends Pulse>(pulse: P): P;
  /** Closes `bus` after the file; returns it. */
  trackBus<B extends NatsBus>(bus: B): B;
}

/** Starts a nats-server for the test file and cleans up after it. */
export function useNatsFixture(): NatsFixture {
  let server: NatsServer | undefined;
  const buses: NatsBus[] = [];
  const pulses: Pulse[] = [];
  beforeAll(async () => {
    server = await NatsServer.start();
  });
  afterAll(async () => {
    await Promise.all(pulses.map((p) => p.stop()));
    await Promise.all(buses.map((b) => b.close()));
    await server?.stop();
  });
  const ready = (): NatsServer => {
    if (!server) throw new Error('the nats fixture is used before beforeAll ran');
    return server;
  };
  return {
    get url() {
      return ready().url;
    },
    get server() {
      return ready();
    },
    async bus() {
      const b = await NatsBus.connect({ servers: ready().url });
      buses.push(b);
      return b;
    },
    track(pulse) {
      pulses.push(pulse);
      return pulse;
    },
    trackBus(bus) {
      buses.push(bus);
      return bus;
    },
  };
}
