/**
 * Health monitoring: print the client's health every beat (connection, degradation, tempo,
 * drift, errors) so an operator sees what the SDK sees.
 *
 *   node packages/sdk/dist-examples/service-monitor.js --nats nats://127.0.0.1:4222 --cluster chorus-aus-01 --beats 4
 */
import { createClient, hintIfSilent } from '@backbeat/sdk';
import { exampleArgs } from './args.js';

const { nats, cluster, beats } = exampleArgs();
const client = createClient({ clusterId: cluster, agentId: 'service:monitor-1', nats });
let n = 0;
const done = new Promise<void>((resolve) => {
  client.onBeat(() => {
    const h = client.health();
    console.log(
      `health connected=${h.connected} beat=${h.lastBeat} degraded=${h.localDegradation} tempo=${h.currentTempo} ` +
        `measured=${h.measuredBpm?.toFixed(2) ?? '-'} drift=${h.tempoDrift.toFixed(2)}ms ` +
        `reconnects=${h.reconnectCount} errors=${h.errors.length}`,
    );
    if (++n >= beats) resolve();
  });
});
await client.start();
const cancelHint = hintIfSilent(client, (hint) => console.error(hint)); // a mistyped --cluster does not wait silently
await done;
console.log(JSON.stringify(client.metrics()));
cancelHint();
await client.stop();
