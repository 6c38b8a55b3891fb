/**
 * @backbeat/testing: the shared test harness (test-only). Real nats-servers on free loopback
 * ports, always stopped; the NATS fixture (a server, connections and what runs on them, stopped
 * in order; `useNatsFixture()` in `@backbeat/testing/vitest`); polling with a deadline instead
 * of sleeps; child processes that cannot outlive the test run.
 *
 * ```ts
 * await using server = await NatsServer.start();           // JetStream on, port picked by the server
 * await using nats = await NatsFixture.start();            // a server, nats.bus, nats.connect(), nats.track(x)
 * await waitFor(() => received.length >= 3, { message: 'three frames' });
 * await server.restart();                                   // same port, same JetStream store
 * const cli = ManagedProcess.node('packages/cli/bin/backbeat.js', ['watch']);
 * await cli.waitForOutput(/connected/);
 * await cli.stop();
 * ```
 */
export { NatsServer, canConnect } from './nats-server.js';
export type { NatsServerOptions } from './nats-server.js';
export {
  natsServerBinary,
  legacyNatsServerBinary,
  PINNED_NATS_SERVER_VERSION,
  MIN_PATH_VERSION,
  pinnedBinaryPath,
  readVersion,
} from './nats-binary.js';
export type { NatsServerBinary } from './nats-binary.js';
export { NatsFixture } from './nats-fixture.js';
export type { NatsFixtureOptions, Stoppable } from './nats-fixture.js';
export { NatsCluster } from './nats-cluster.js';
export type { NatsClusterOptions, StreamCluster } from './nats-cluster.js';
export { ManagedProcess } from './process.js';
export type { SpawnOptions } from './process.js';
export { waitFor, delay } from './wait.js';
export type { WaitForOptions } from './wait.js';
export { onProcessExit } from './cleanup.js';
export { freePort } from './ports.js';
export { NetCluster, NET_NATS_PORT, NET_ROUTE_PORT } from './net-cluster.js';
export type { NetClusterOptions } from './net-cluster.js';
export type { NetHost } from './net-links.js';
export { PROBE_PORT } from './netns-relay.js';
export type { ProbeResult } from './netns-relay.js';
