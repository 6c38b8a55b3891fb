/**
 * The smallest useful agent: follow the beat and report a status claim every beat.
 *
 *   node packages/sdk/dist-examples/simple-agent.js --nats nats://127.0.0.1:4222 --cluster chorus-aus-01 --beats 8
 */
import { createClient, hintIfSilent } from '@backbeat/sdk';
import { exampleArgs } from './args.js';

const { nats, cluster, beats } = exampleArgs();
const client = createClient({ clusterId: cluster, agentId: 'agent:simple-1', nats });
let seen = 0;
const done = new Promise<void>((resolve) => {
  client.onBeat(async (frame, { source }) => {
    console.log(
      `beat ${frame.beat_index} (${source}) tempo ${frame.tempo_bpm} BPM window ${frame.window_id.slice(0, 8)}`,
    );
    await client.emitStatusClaim({ state: 'executing', progress: (++seen % 8) / 8, notes: `beat ${frame.beat_index}` });
    if (seen >= beats) resolve();
  });
});
client.onDownbeat((frame) => console.log(`-- bar starts at beat ${frame.beat_index}`));
await client.start();
const cancelHint = hintIfSilent(client, (hint) => console.error(hint)); // a mistyped --cluster does not wait silently
await done;
cancelHint();
await client.stop();
console.log(`done: ${seen} beats, ${client.metrics().claimsEmitted} claims`);
