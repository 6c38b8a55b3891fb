/**
 * Runs once before the suite: names the nats-server every messaging test runs against, so the
 * test output records it (`BACKBEAT_NATS_SERVER` picks another; see packages/testing/src/nats-binary.ts).
 */
import { natsServerBinary } from './packages/testing/src/nats-binary.js';

export default function setup(): void {
  const { path, version, source } = natsServerBinary();
  process.stdout.write(`nats-server ${version} (${path}, from ${source}): every messaging test runs against it\n`);
}
