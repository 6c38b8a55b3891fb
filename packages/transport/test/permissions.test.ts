/**
 * deploy/nats/auth.conf on a real nats-server: each login (pulse, reverb, agent, observer,
 * view) can do its job through the bus (docs/security.md Roles). The attacks are in
 * roles-attack.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerBinary, waitFor } from '@backbeat/testing';
import {
  NatsBus,
  dlqStreamConfig,
  encodeJson,
  reportStreamConfig,
  STATE_KEYS,
  statusStreamConfig,
  subjects,
  type DurableMsg,
  type KvWatchEvent,
} from '@backbeat/transport';
import { dec, enc } from './helpers.js';
import { C, LOGINS, natsDir, pass, startRolesServer, type RolesServer } from './roles-server.js';

const S = subjects(C);

/** The suite: on the server's default ack subjects, and again with 2.14's v2 ack and flow-control subjects. */
function suite(title: string, extraConfig: string): void {
  describe(title, () => {
    let s: RolesServer;
    beforeAll(async () => {
      s = await startRolesServer(extraConfig);
    }, 60_000);
    afterAll(async () => {
      await s?.stop();
    });

    it('permissions - pulse writes the lease, state and presence buckets and publishes beats and control', async () => {
      const lease = await s.bus.pulse.kv(`backbeat_${C}_lease`, { create: false });
      await lease.create(
        STATE_KEYS.leader,
        encodeJson({ node_id: 'p1', term: 1, acquired_at: '2026-12-01T00:00:00Z' }),
      );
      await (await s.bus.pulse.kv(`backbeat_${C}_state`, { create: false })).put(STATE_KEYS.tempoMap, enc('{"map":1}'));
      await (await s.bus.pulse.kv(`backbeat_${C}_presence`, { create: false })).put('pulse.p1', enc('{}'));
      const heard: string[] = [];
      s.bus.pulse.subscribe(S.beat, (m) => heard.push(dec(m.data)));
      await s.bus.pulse.flush();
      s.bus.pulse.publish(S.beat, enc('frame-1'));
      s.bus.pulse.publish(S.control, enc('ctl'));
      await waitFor(() => heard.includes('frame-1'), { message: 'its own frame' });
      expect(s.errors.pulse).toEqual([]);
    });

    it(
      'permissions - reverb consumes claims, stores reports and hears them ' +
        'republished, publishes and hears dead letters, reads the tempo map',
      async () => {
        const got: DurableMsg[] = [];
        await s.bus.reverb.consume(
          { stream: statusStreamConfig(C).name, durable: 'reverb_r1', ackWaitMs: 5000 },
          (m) => {
            got.push(m);
            m.ack();
          },
        );
        const dlq: string[] = [];
        const reports: string[] = [];
        s.bus.reverb.subscribe(S.dlq, (m) => dlq.push(dec(m.data)));
        s.bus.reverb.subscribe(S.reverb, (m) => reports.push(dec(m.data)));
        await s.bus.reverb.flush();
        await s.bus.reverb.publishDurable(S.reportStore, enc('report-1'), { msgId: 'w1' });
        s.bus.reverb.publish(S.dlq, enc('poison'));
        await waitFor(() => dlq.includes('poison'), { message: 'the dead letter heard live' });
        await waitFor(() => reports.includes('report-1'), { message: 'the stored report, republished' });
        expect((await s.bus.reverb.readStream({ stream: reportStreamConfig(C).name })).map((m) => dec(m.data))).toEqual(
          ['report-1'],
        );
        await waitFor(async () => (await s.bus.reverb.readStream({ stream: dlqStreamConfig(C).name })).length === 1, {
          message: 'the dead letter in its stream',
        });
        const state = await s.bus.reverb.kv(`backbeat_${C}_state`, { create: false });
        expect(dec((await state.get(STATE_KEYS.tempoMap))!.value)).toBe('{"map":1}');
        await (await s.bus.reverb.kv(`backbeat_${C}_presence`, { create: false })).put('reverb.r1', enc('{}'));
        const ack = await s.bus.agent.publishDurable(S.status, enc('claim-1'), { msgId: 'agent:a1|1' });
        expect(ack).toMatchObject({ stream: statusStreamConfig(C).name, duplicate: false });
        await waitFor(() => got.length === 1, { message: 'the claim at reverb' });
        expect(dec(got[0]!.data)).toBe('claim-1');
        expect(s.errors.reverb).toEqual([]);
      },
    );

    it(
      'permissions - an agent claims (acknowledged), follows beat, reports ' +
        'and control, gets and watches lease and tempo map',
      async () => {
        const frames: string[] = [];
        const reports: string[] = [];
        const control: string[] = [];
        s.bus.agent.subscribe(S.beat, (m) => frames.push(dec(m.data)));
        s.bus.agent.subscribe(S.reverb, (m) => reports.push(dec(m.data)));
        s.bus.agent.subscribe(S.control, (m) => control.push(dec(m.data)));
        await s.bus.agent.flush();
        s.bus.pulse.publish(S.beat, enc('frame-2'));
        s.bus.pulse.publish(S.control, enc('ctl-2'));
        await s.bus.reverb.publishDurable(S.reportStore, enc('report-2'), { msgId: 'w2' }); // republished on S.reverb
        await waitFor(() => frames.includes('frame-2') && reports.includes('report-2') && control.includes('ctl-2'), {
          message: 'a frame, a report and control at the agent',
        });
        const ack = await s.bus.agent.publishDurable(S.status, enc('claim-2'), { msgId: 'agent:a1|2' });
        expect(ack).toMatchObject({ stream: statusStreamConfig(C).name, duplicate: false });
        const lease = await s.bus.agent.kv(`backbeat_${C}_lease`, { create: false });
        await waitFor(async () => (await lease.get(STATE_KEYS.leader)) !== null, {
          message: 'the lease through the mirror',
        });
        const state = await s.bus.agent.kv(`backbeat_${C}_state`, { create: false });
        const watched: KvWatchEvent[] = [];
        const w = await state.watch(STATE_KEYS.tempoMap, (e) => watched.push(e));
        await waitFor(() => watched.length === 1, { message: 'the tempo map through a watch' });
        await (await s.bus.pulse.kv(`backbeat_${C}_state`, { create: false })).put(
          STATE_KEYS.tempoMap,
          enc('{"map":2}'),
        );
        await waitFor(() => watched.some((e) => e.value && dec(e.value) === '{"map":2}'), {
          message: 'the change through the watch',
        });
        w.stop();
        expect(s.errors.agent).toEqual([]);
      },
    );

    it(
      'permissions - an observer reads the beat, reports, dead letters, the buckets and ' +
        'the dead-letter stream; backbeat status reads the streams',
      async () => {
        const frames: string[] = [];
        const dlq: string[] = [];
        s.bus.observer.subscribe(S.beat, (m) => frames.push(dec(m.data)));
        s.bus.observer.subscribe(S.dlq, (m) => dlq.push(dec(m.data)));
        await s.bus.observer.flush();
        s.bus.pulse.publish(S.beat, enc('frame-4'));
        s.bus.reverb.publish(S.dlq, enc('poison-2'));
        await waitFor(() => frames.includes('frame-4') && dlq.includes('poison-2'), {
          message: 'a frame and a dead letter at the observer',
        });
        const state = await s.bus.observer.kv(`backbeat_${C}_state`, { create: false });
        await waitFor(async () => dec((await state.get(STATE_KEYS.tempoMap))?.value ?? enc('')) === '{"map":2}', {
          message: 'the tempo map through the mirror',
        });
        const presence = await s.bus.observer.kv(`backbeat_${C}_presence`, { create: false });
        await waitFor(async () => (await presence.keys()).join() === 'pulse.p1,reverb.r1', {
          message: 'the presence keys through the mirror',
        });
        await waitFor(async () => (await s.bus.observer.readStream({ stream: dlqStreamConfig(C).name })).length === 2, {
          message: 'the dead letters through the mirror',
        });
        const jsm = await s.bus.observer.jsm();
        expect((await jsm.streams.info(statusStreamConfig(C).name)).state.messages).toBeGreaterThan(0);
        expect((await jsm.streams.info(reportStreamConfig(C).name)).state.messages).toBe(2);
        expect(s.errors.observer).toEqual([]);
      },
    );
  });
}

describe('permissions - deploy/nats/auth.conf on nats-server', () => {
  it('permissions - the deployed server configuration (with auth.conf) is valid for nats-server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backbeat-natsconf-'));
    try {
      cpSync(natsDir, dir, { recursive: true });
      const conf = readFileSync(join(dir, 'nats-server.conf'), 'utf8');
      expect(conf).toMatch(/^\s+sync_interval: always$/m);
      writeFileSync(join(dir, 'nats-server.conf'), conf.replace('"/data"', JSON.stringify(join(dir, 'data'))));
      const env = {
        ...process.env,
        SERVER_NAME: 'nats-1',
        ...Object.fromEntries(LOGINS.map((l) => [`BACKBEAT_NATS_${l.toUpperCase()}_PASS`, `"${pass(l)}"`])),
      };
      const r = spawnSync(natsServerBinary().path, ['-t', '-c', join(dir, 'nats-server.conf')], {
        env,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr + r.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('permissions - a wrong password is refused', async () => {
    const s = await startRolesServer();
    try {
      await expect(
        NatsBus.connect({ servers: s.server.url, user: 'agent', pass: 'wrong', maxReconnectAttempts: 0 }),
      ).rejects.toThrow(/Authorization/i);
    } finally {
      await s.stop();
    }
  }, 60_000);
});

suite('permissions - every role does its job (default ack subjects)', '');
suite(
  'permissions - every role does its job (feature_flags js_ack_fc_v2: the v2 ack and flow-control subjects)',
  'feature_flags { js_ack_fc_v2: true }',
);
