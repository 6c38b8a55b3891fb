/**
 * @backbeat/testing/vitest: the NATS fixture bound to a vitest file. Kept apart from the main
 * entry so that the harness's other users (the CLI's `backbeat dev`, scripts, benchmarks) do
 * not load vitest.
 *
 * ```ts
 * import { useNatsFixture } from '@backbeat/testing/vitest';
 * const nats = useNatsFixture();
 * it('...', async () => {
 *   const pulse = nats.track(new Pulse({ bus: await nats.connect(), clusterId: 'c1', nodeId: 'p1' }));
 * });
 * ```
 */
import { afterAll, beforeAll } from 'vitest';
import { NatsFixture, type NatsFixtureOptions, type Stoppable } from './nats-fixture.js';
import type { NatsServer } from './nats-server.js';
import type { NatsBus, NatsConfig } from '@backbeat/transport';

/** What {@link useNatsFixture} gives a test file: a {@link NatsFixture} once beforeAll ran. */
export type NatsFixtureHandle = Pick<NatsFixture, 'server' | 'url' | 'bus' | 'connect' | 'track' | 'cleanup'>;

/**
 * One {@link NatsFixture} for the test file: started in beforeAll, stopped in afterAll, so every
 * tracked service, connection and the server are stopped also when a test fails.
 */
export function useNatsFixture(options: NatsFixtureOptions = {}): NatsFixtureHandle {
  let fixture: NatsFixture | undefined;
  beforeAll(async () => {
    fixture = await NatsFixture.start(options);
  });
  afterAll(async () => {
    await fixture?.stop();
  });
  const ready = (): NatsFixture => {
    if (!fixture) throw new Error('the nats fixture is used before beforeAll ran');
    return fixture;
  };
  return {
    get server(): NatsServer {
      return ready().server;
    },
    get url(): string {
      return ready().url;
    },
    get bus(): NatsBus {
      return ready().bus;
    },
    connect: (config?: Omit<NatsConfig, 'servers'>) => ready().connect(config),
    track: <T extends Stoppable>(thing: T): T => ready().track(thing),
    cleanup: (stop: () => unknown) => ready().cleanup(stop),
  };
}
