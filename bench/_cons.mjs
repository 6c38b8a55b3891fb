import { NatsServer } from '@backbeat/testing';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
const server = await NatsServer.start();
const nc = await connect({ servers: server.url });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
const N = 50000;
const data = new TextEncoder().encode('{"type":"backbeat.statusclaim.v1","agent_id":"agent:a1","beat_index":3,"state":"executing","hlc":"18bcfe56800:0001:abcd","progress":0.5}');
let run = 0;
async function trial(policy, maxMessages, every) {
  const name = `c${run++}`;
  await jsm.consumers.add('S', { durable_name: name, ack_policy: policy, deliver_policy: DeliverPolicy.New, max_ack_pending: 20000, ack_wait: 30e9 });
  const c = await js.consumers.get('S', name);
  const msgs = await c.consume({ max_messages: maxMessages, expires: 5000 });
  let n = 0;
  const done = (async () => { for await (const m of msgs) { n++; if (policy === AckPolicy.Explicit || n % every === 0 || n === N) m.ack(); if (n === N) break; } })();
  const t = performance.now();
  for (let i = 0; i < N; i++) { nc.publish('s.x', data); if (i % 2000 === 1999) await nc.flush(); }
  await done;
  const rate = Math.round(N / ((performance.now() - t) / 1000));
  await msgs.close().catch(() => {});
  console.log(policy, 'pull', maxMessages, 'ack every', policy === AckPolicy.Explicit ? 1 : every, rate, '/s');
}
await trial(AckPolicy.Explicit, 100, 1);
await trial(AckPolicy.Explicit, 1000, 1);
await trial(AckPolicy.All, 100, 100);
await trial(AckPolicy.All, 1000, 100);
await trial(AckPolicy.All, 1000, 500);
await trial(AckPolicy.All, 500, 250);
await nc.close();
await server.stop();
