/**
 * The NATS test fixture (like nats.js's `nst` helpers): one real nats-server, one connection of
 * the test's own, more connections on demand, and everything a test starts on them, stopped in
 * one place and in a fixed order (last tracked first, then the connections, then the server).
 *
 * ```ts
 * await using nats = await NatsFixture.start();
 * const pulse = nats.track(new Pulse({ bus: await nats.connect(), clusterId: 'c1', nodeId: 'p1' }));
 * await pulse.start();
 * nats.bus.subscribe(subjects('c1').beat, onFrame);
 * ```
 *
 * In a vitest file, `useNatsFixture()` from `@backbeat/testing/vitest` starts one per file.
 */
import { NatsBus, type NatsConfig } from '@backbeat/transport';
import { NatsServer, type NatsServerOptions } from './nats-server.js';

/** Something the fixture stops after the test: a service (`stop()`) or a connection (`close()`). */
export type Stoppable = { stop(): Promise<unknown> | unknown } | { close(): Promise<unknown> | unknown };

/** Options of {@link NatsFixture.start}. */
export interface NatsFixtureOptions {
  /** The server's options (auth, JetStream settings, binary). @default {} */
  server?: NatsServerOptions;
  /** Options of the fixture's own connection {@link NatsFixture.bus} (its `servers` is the fixture's). */
  bus?: Omit<NatsConfig, 'servers'>;
}

/** A running nats-server with a connection of the test's own and the things the test tracks. */
export class NatsFixture {
  readonly server: NatsServer;
  /** The fixture's own connection, closed by {@link stop}. */
  readonly bus: NatsBus;
  readonly #connections: NatsBus[] = [];
  readonly #cleanups: Array<() => unknown> = [];
  #stopped = false;

  private constructor(server: NatsServer, bus: NatsBus) {
    this.server = server;
    this.bus = bus;
  }

  /** Starts the server and connects to it; a failed connect stops the server again. */
  static async start(options: NatsFixtureOptions = {}): Promise<NatsFixture> {
    const server = await NatsServer.start(options.server);
    try {
      return new NatsFixture(server, await NatsBus.connect({ ...options.bus, servers: server.url }));
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  /** The server's client URL, 'nats://127.0.0.1:PORT'. */
  get url(): string {
    return this.server.url;
  }

  /** A new connection to the server (e.g. one per service under test), closed by {@link stop}. */
  async connect(config: Omit<NatsConfig, 'servers'> = {}): Promise<NatsBus> {
    const bus = await NatsBus.connect({ ...config, servers: this.server.url });
    this.#connections.push(bus);
    return bus;
  }

  /** Stops (or closes) `thing` in {@link stop}, before the connections close; returns it. */
  track<T extends Stoppable>(thing: T): T {
    this.cleanup(() => ('stop' in thing ? thing.stop() : thing.close()));
    return thing;
  }

  /** Runs `stop` in {@link stop}, before the connections close (last added, first run). */
  cleanup(stop: () => unknown): void {
    this.#cleanups.push(stop);
  }

  /**
   * Runs the cleanups (last added first), closes the connections and stops the server; every
   * step runs even when an earlier one fails. Idempotent.
   * @throws AggregateError naming every step that failed, after all of them ran
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const errors: unknown[] = [];
    const attempt = async (step: () => unknown): Promise<void> => {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    };
    for (const c of this.#cleanups.splice(0).reverse()) await attempt(c);
    for (const b of [...this.#connections.splice(0), this.bus]) await attempt(() => b.close());
    await attempt(() => this.server.stop());
    if (errors.length > 0) throw new AggregateError(errors, `nats fixture: ${errors.length} cleanup step(s) failed`);
  }

  /** Same as {@link stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
