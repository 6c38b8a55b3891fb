/**
 * @backbeat/testing: the shared test harness. Real servers on free loopback ports, always
 * stopped; polling instead of sleeps.
 *
 * ```ts
 * const server = await NatsServer.start();
 * try { ... } finally { await server.stop(); }
 * await waitFor(() => received.length >= 3, { message: 'three frames' });
 * ```
 */
export { NatsServer } from './nats-server.js';
export type { NatsServerOptions } from './nats-server.js';
export { ManagedProcess } from './process.js';
export type { SpawnOptions } from './process.js';
export { waitFor, delay } from './wait.js';
export type { WaitForOptions } from './wait.js';
export { onProcessExit } from './cleanup.js';
export { freePort } from './ports.js';
