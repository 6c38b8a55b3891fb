/**
 * deploy/nats/auth.conf on a real nats-server: each role (pulse, reverb, agent, observer)
 * can do its job through the bus and nothing more (issue 12, least privilege).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, natsServerBinary, waitFor } from '@backbeat/testing';
import {
  NatsBus,
  dlqStreamConfig,
  encodeJson,
  openLeaseBucket,
  openPresenceBucket,
  openStateBucket,
  reportStreamConfig,
  STATE_KEYS,
  statusStreamConfig,
  subjects,
  type BusEvent,
  type DurableMsg,
  type KvWatchEvent,
} from '@backbeat/transport';
import { dec, enc } from './helpers.js';

const C = 'chorus-aus-01';
const S = subjects(C);
const ROLES = ['pulse', 'reverb', 'agent', 'observer'] as const;
type Role = (typeof ROLES)[number];
const natsDir = fileURLToPath(new URL('../../../deploy/nats/', import.meta.url));
const auth = readFileSync(join(natsDir, 'auth.conf'), 'utf8');
const pass = (role: Role) => `${role}-secret-for-test`;

describe('permissions - deploy/nats/auth.conf on nats-server', () => {
  let server: NatsServer;
  const bus = {} as Record<Role, NatsBus>;
  const errors = {} as Record<Role, string[]>;
  beforeAll(async () => {
    const vars = ROLES.map((r) => `BACKBEAT_NATS_${r.toUpperCase()}_PASS: "${pass(r)}"`).join('\n');
    server = await NatsServer.start({ config: `${vars}\n${auth}` });
    for (const r of ROLES) {
      bus[r] = await NatsBus.connect({ servers: server.url, user: r, pass: pass(r), name: `perm-${r}` });
      errors[r] = [];
      bus[r].onStatus((e: BusEvent) => e.type === 'error' && errors[r].push(e.error.message));
    }
  });
  afterAll(async () => {
    for (const r of ROLES) await bus[r]?.close();
    await server?.stop();
  });

  /** A promise that must reject: returns the error's message. */
  const refused = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, 'the operation should have been refused').toBeInstanceOf(Error);
    return err!.message;
  };

  it('permissions - the deployed server configuration (with auth.conf) is valid for nats-server', () => {
    // The local nats-server is 2.9, which predates sync_interval: check the rest of the file with it.
    const dir = mkdtempSync(join(tmpdir(), 'backbeat-natsconf-'));
    try {
      cpSync(natsDir, dir, { recursive: true });
      const conf = readFileSync(join(dir, 'nats-server.conf'), 'utf8');
      expect(conf).toMatch(/^\s+sync_interval: always$/m);
      writeFileSync(join(dir, 'nats-server.conf'), conf.replace(/^\s+sync_interval: always$/m, ''));
      const env = { ...process.env, SERVER_NAME: 'nats-1', ...Object.fromEntries(ROLES.map((r) => [`BACKBEAT_NATS_${r.toUpperCase()}_PASS`, pass(r)])) };
      const r = spawnSync(natsServerBinary().path, ['-t', '-c', join(dir, 'nats-server.conf')], { env, encoding: 'utf8' });
      expect(r.status, r.stderr + r.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('permissions - a wrong password is refused', async () => {
    await expect(NatsBus.connect({ servers: server.url, user: 'agent', pass: 'wrong', maxReconnectAttempts: 0 })).rejects.toThrow(/Authorization/i);
  });

  it('permissions - pulse owns the lease, state and presence buckets and publishes beats and control', async () => {
    const lease = await openLeaseBucket(bus.pulse, C, { ttlMs: 5000 });
    await lease.create(STATE_KEYS.leader, encodeJson({ node_id: 'p1', term: 1, acquired_at: '2026-12-01T00:00:00Z' }));
    const state = await openStateBucket(bus.pulse, C);
    await state.put(STATE_KEYS.tempoMap, enc('{"map":1}'));
    await (await openPresenceBucket(bus.pulse, C)).put('pulse.p1', enc('{}'));
    const heard: string[] = [];
    bus.pulse.subscribe(S.beat, (m) => heard.push(dec(m.data)));
    await bus.pulse.flush();
    bus.pulse.publish(S.beat, enc('frame-1'));
    bus.pulse.publish(S.control, enc('ctl'));
    await waitFor(() => heard.includes('frame-1'), { message: 'its own frame' });
    expect(errors.pulse).toEqual([]);
    // and nothing more: no claims, no reports, no streams
    await refused(bus.pulse.ensureStream(statusStreamConfig(C)));
    bus.pulse.publish(S.reverb, enc('fake report'));
    await waitFor(() => errors.pulse.some((m) => /Permissions Violation for Publish to "backbeat\.chorus-aus-01\.reverb"/.test(m)), { message: 'the refusal of a report publish' });
  });

  it('permissions - reverb owns the status and report streams and its consumer, publishes reports and dead letters, reads the tempo map', async () => {
    await bus.reverb.ensureStream(statusStreamConfig(C));
    await bus.reverb.ensureStream(reportStreamConfig(C));
    await bus.reverb.ensureStream(dlqStreamConfig(C));
    const got: DurableMsg[] = [];
    await bus.reverb.consume({ stream: statusStreamConfig(C).name, durable: 'reverb_r1', ackWaitMs: 5000 }, (m) => {
      got.push(m);
      m.ack();
    });
    await bus.reverb.publishDurable(S.reportStore, enc('report-1'), { msgId: 'w1' });
    bus.reverb.publish(S.reverb, enc('report-1'));
    bus.reverb.publish(S.dlq, enc('poison'));
    const back = await bus.reverb.readStream({ stream: reportStreamConfig(C).name });
    expect(back.map((m) => dec(m.data))).toEqual(['report-1']);
    await waitFor(async () => (await bus.reverb.readStream({ stream: dlqStreamConfig(C).name })).length === 1, { message: 'the dead letter in its stream' });
    const state = await openStateBucket(bus.reverb, C, {});
    expect(dec((await state.get(STATE_KEYS.tempoMap))!.value)).toBe('{"map":1}');
    await (await openPresenceBucket(bus.reverb, C)).put('reverb.r1', enc('{}'));
    // the agent's claim reaches the durable consumer
    await bus.agent.publishDurable(S.status, enc('claim-1'), { msgId: 'agent:a1|1' });
    await waitFor(() => got.length === 1, { message: 'the claim at reverb' });
    expect(dec(got[0]!.data)).toBe('claim-1');
    await bus.reverb.flush();
    expect(errors.reverb).toEqual([]);
    // and nothing more: no beats, no tempo changes
    await refused(state.put(STATE_KEYS.tempoMap, enc('{"map":2}')));
    bus.reverb.publish(S.beat, enc('forged frame'));
    await waitFor(() => errors.reverb.some((m) => /Permissions Violation for Publish to "backbeat\.chorus-aus-01\.beat"/.test(m)), { message: 'the refusal of a frame' });
  });

  it('permissions - an agent claims, follows beat, reports and control, reads lease and tempo map, and can do nothing else', async () => {
    const frames: string[] = [];
    const reports: string[] = [];
    bus.agent.subscribe(S.beat, (m) => frames.push(dec(m.data)));
    bus.agent.subscribe(S.reverb, (m) => reports.push(dec(m.data)));
    bus.agent.subscribe(S.control, () => {});
    await bus.agent.flush();
    bus.pulse.publish(S.beat, enc('frame-2'));
    bus.reverb.publish(S.reverb, enc('report-2'));
    await waitFor(() => frames.includes('frame-2') && reports.includes('report-2'), { message: 'a frame and a report at the agent' });
    const ack = await bus.agent.publishDurable(S.status, enc('claim-2'), { msgId: 'agent:a1|2' });
    expect(ack).toMatchObject({ stream: statusStreamConfig(C).name, duplicate: false });
    const lease = await bus.agent.kv(`backbeat_${C}_lease`, { create: false });
    expect((await lease.get(STATE_KEYS.leader))?.revision).toBeGreaterThan(0);
    const state = await bus.agent.kv(`backbeat_${C}_state`, { create: false });
    const watched: KvWatchEvent[] = [];
    const w = await state.watch(STATE_KEYS.tempoMap, (e) => watched.push(e));
    await waitFor(() => watched.length === 1, { message: 'the tempo map through a watch' });
    w.stop();
    expect(errors.agent).toEqual([]);

    // Nothing more. A BeatFrame from an agent never reaches the fleet:
    const pulseHeard: string[] = [];
    bus.pulse.subscribe(S.beat, (m) => pulseHeard.push(dec(m.data)));
    await bus.pulse.flush();
    bus.agent.publish(S.beat, enc('forged frame'));
    bus.agent.publish(S.control, enc('forged control'));
    await waitFor(() => errors.agent.some((m) => /Permissions Violation for Publish to "backbeat\.chorus-aus-01\.beat"/.test(m)), { message: 'the refusal of the frame' });
    bus.pulse.publish(S.beat, enc('frame-3')); // sent after the forged one: once it arrives, the forged one would have
    await waitFor(() => pulseHeard.includes('frame-3'), { message: 'the next real frame' });
    expect(pulseHeard).toEqual(['frame-3']);
    // no KV writes, no stream or bucket administration, no reading other streams' consumers
    await refused(lease.put(STATE_KEYS.leader, enc('mine')));
    await refused(state.delete(STATE_KEYS.tempoMap));
    await refused(bus.agent.ensureStream(statusStreamConfig(C)));
    await refused(bus.agent.kv('agent_made_bucket'));
    await refused((await bus.agent.jsm()).streams.delete(statusStreamConfig(C).name));
    await refused(bus.agent.consume({ stream: statusStreamConfig(C).name, durable: 'thief' }, () => {}));
    await refused(bus.agent.publishDurable(S.reportStore, enc('fake report'), { timeoutMs: 1000 }));
    expect((await (await bus.reverb.jsm()).streams.info(statusStreamConfig(C).name)).state.messages).toBe(2); // only the two real claims
  });

  it('permissions - an observer reads the beat, reports, lease, state and report history, and writes nothing', async () => {
    const frames: string[] = [];
    bus.observer.subscribe(S.beat, (m) => frames.push(dec(m.data)));
    await bus.observer.flush();
    bus.pulse.publish(S.beat, enc('frame-4'));
    await waitFor(() => frames.includes('frame-4'), { message: 'a frame at the observer' });
    const state = await bus.observer.kv(`backbeat_${C}_state`, { create: false });
    expect(dec((await state.get(STATE_KEYS.tempoMap))!.value)).toBe('{"map":1}');
    expect((await bus.observer.readStream({ stream: reportStreamConfig(C).name })).map((m) => dec(m.data))).toEqual(['report-1']);
    expect((await bus.observer.readStream({ stream: dlqStreamConfig(C).name })).map((m) => dec(m.data))).toEqual(['poison']);
    expect(errors.observer).toEqual([]);
    await refused(state.put(STATE_KEYS.tempoMap, enc('x')));
    await refused(bus.observer.publishDurable(S.status, enc('claim'), { timeoutMs: 1000 }));
    await refused((await bus.observer.jsm()).streams.delete(reportStreamConfig(C).name));
    bus.observer.publish(S.control, enc('forged control'));
    await waitFor(() => errors.observer.some((m) => /Permissions Violation for Publish to "backbeat\.chorus-aus-01\.control"/.test(m)), { message: 'the refusal of a control message' });
  });
});
