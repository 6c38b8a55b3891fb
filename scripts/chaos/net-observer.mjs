#!/usr/bin/env node
/**
 * One host's observers for the partition chaos run (scripts/chaos/partition.mjs), started
 * inside that host's network namespace and connected to that host's NATS node only: a raw
 * wire recorder (a plain subscriber on the beat and reverb subjects, keeping each frame's
 * Backbeat-Term header and its scheduled and deadline instants) and an SDK client that
 * records every (beat, phase) slot it fires and sends one claim per beat. Everything it sees
 * goes to stdout as one JSON object per line, stamped with this machine's clock (the same
 * clock for every host: arrival times compare directly):
 *   {"k":"f", slot, beat, phase, term, window, sched, deadline, at}   a frame on the wire
 *   {"k":"r", window, fromBeat, agents, claims, late, at}              a bar report
 *   {"k":"s", slot, beat, window, source, at}                          a slot the SDK fired
 *   {"k":"a", at} / {"k":"x", at, message}                             a claim acknowledged / failed
 * Stops on SIGTERM or SIGINT.
 *
 *   node scripts/chaos/net-observer.mjs <nats-url> <cluster> <host-name>
 */
import { createClient } from '@backbeat/sdk';
import { decodeJson, NatsBus, subjects } from '@backbeat/transport';
import { reportSeen } from './observe.mjs';

const [url, clusterId, host] = process.argv.slice(2);
if (!url || !clusterId || !host) {
  process.stderr.write('usage: net-observer.mjs <nats-url> <cluster> <host-name>\n');
  process.exit(2);
}
const PHASES = ['plan', 'execute', 'review'];
const slotOf = (beat, phase) => beat * PHASES.length + PHASES.indexOf(phase);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const s = subjects(clusterId);

const bus = await NatsBus.connect({
  servers: [url],
  name: `chaos-recorder-${host}`,
  reconnectTimeWaitMs: 100,
  pingIntervalMs: 1000,
});
bus.subscribe(s.beat, (m) => {
  const at = Date.now();
  const raw = m.headers['Backbeat-Term'];
  const term = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : -1;
  try {
    const f = decodeJson(m.data);
    out({
      k: 'f',
      slot: slotOf(f.beat_index, f.phase),
      beat: f.beat_index,
      phase: f.phase,
      term,
      window: f.window_id,
      sched: Date.parse(f.scheduled_at),
      deadline: Date.parse(f.deadline_at),
      at,
    });
  } catch {
    out({ k: 'f', slot: -1, beat: -1, phase: 'invalid', term, window: '', sched: 0, deadline: 0, at });
  }
});
bus.subscribe(s.reverb, (m) => {
  try {
    const rep = reportSeen(m.data);
    if (rep) out({ k: 'r', ...rep });
  } catch {
    // not a report
  }
});

const client = createClient({
  clusterId,
  agentId: `chaos:sdk-${host}`,
  nats: { servers: [url], pingIntervalMs: 1000 },
});
client.onPhase((frame, info) =>
  out({
    k: 's',
    slot: slotOf(frame.beat_index, frame.phase),
    beat: frame.beat_index,
    window: frame.window_id,
    source: info.source,
    at: Date.now(),
  }),
);
client.onBeat((frame) => {
  const sentAt = Date.now();
  client.emitStatusClaim({ state: 'executing', beatIndex: frame.beat_index }).then(
    () => out({ k: 'a', at: sentAt }),
    (err) => out({ k: 'x', at: sentAt, message: err?.message ?? String(err) }),
  );
});
await client.start();
process.stderr.write(`observer ${host} started on ${url}\n`);

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    void Promise.allSettled([client.stop(), bus.close()]).finally(() => process.exit(0));
  });
}
