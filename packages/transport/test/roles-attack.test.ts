/**
 * The attacks of docs/security.md Roles, each performed by the login that would try it (agent,
 * observer) on a real nats-server running deploy/nats/auth.conf: JetStream made to publish for
 * them (push consumers delivering onto the beat, control, reports, dead-letter, claim or lease
 * subjects), forged reports on the broadcast subject (by any login, reverb's included), rewriting
 * or deleting reverb's durable, reading others' replies and claims.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import {
  dlqStreamConfig,
  encodeJson,
  reportStreamConfig,
  STATE_KEYS,
  statusStreamConfig,
  subjects,
  type DurableMsg,
} from '@backbeat/transport';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { dec, enc } from './helpers.js';
import { C, refused, startRolesServer, type Login, type RolesServer } from './roles-server.js';

const S = subjects(C);
const LEASE = `KV_backbeat_${C}_lease`;
const STATUS = statusStreamConfig(C).name;

describe('roles attack - agent and observer logins against deploy/nats/auth.conf', () => {
  let s: RolesServer;
  const reverbGot: DurableMsg[] = [];
  beforeAll(async () => {
    s = await startRolesServer();
    await (await s.bus.pulse.kv(`backbeat_${C}_lease`, { create: false })).put(
      STATE_KEYS.leader,
      encodeJson({ node_id: 'p1', term: 1, acquired_at: '2026-12-01T00:00:00Z' }),
    );
    await s.bus.reverb.consume({ stream: STATUS, durable: 'reverb_r1', ackWaitMs: 5000 }, (m) => {
      reverbGot.push(m);
      m.ack();
    });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  const violation = (login: Login, what: RegExp) =>
    waitFor(() => s.errors[login].some((m) => what.test(m)), { message: `the refusal ${what} for ${login}` });
  const counts = async () => ({
    status: (await s.bus.reverb.streamState(STATUS)).messages,
    reports: (await s.bus.reverb.streamState(reportStreamConfig(C).name)).messages,
    dlq: (await s.bus.reverb.streamState(dlqStreamConfig(C).name)).messages,
    lease: (await s.bus.pulse.streamState(LEASE)).lastSeq,
  });

  it(
    'roles attack - push consumers that deliver onto the beat, control, reports, dead-letter, claim ' +
      'and lease subjects reach no one and store nothing (agent and observer)',
    async () => {
      const before = await counts();
      const targets = [
        S.beat,
        S.control,
        S.reverb,
        S.dlq,
        S.reportStore,
        S.status,
        `$KV.backbeat_${C}_lease.${STATE_KEYS.leader}`,
      ];
      // The claim stream, the report stream and the origin lease bucket: their consumer API is not reachable at all.
      for (const login of ['agent', 'observer'] as const) {
        const jsm = await s.bus[login].jsm();
        for (const stream of [STATUS, reportStreamConfig(C).name]) {
          await refused(
            jsm.consumers.add(stream, { name: `evil_${login}`, deliver_subject: S.beat, ack_policy: AckPolicy.None }),
          );
        }
      }
      // The mirrors they may read: consumers are made, in the VIEW account, where those subjects have no listener.
      const made: Array<[Login, string]> = [];
      for (const login of ['agent', 'observer'] as const) {
        const jsm = await s.bus[login].jsm();
        for (const [i, target] of targets.entries()) {
          const name = `evil_${login}_${i}`;
          await jsm.consumers.add(LEASE, {
            name,
            deliver_subject: target,
            ack_policy: AckPolicy.None,
            deliver_policy: DeliverPolicy.All,
          });
          made.push([login, name]);
        }
      }
      // A JetStream API alias as the delivery subject is refused by the server.
      await refused(
        (await s.bus.agent.jsm()).consumers.add(LEASE, {
          name: 'evil_api',
          deliver_subject: `$JS.bb.API.CONSUMER.CREATE.${STATUS}`,
          ack_policy: AckPolicy.None,
        }),
      );
      // Every subject each login may hear.
      const listens = {
        pulse: [S.beat, S.control],
        reverb: [S.beat, S.control, S.reverb, S.dlq],
        agent: [S.beat, S.control, S.reverb],
        observer: [S.beat, S.control, S.reverb, S.dlq],
      };
      const heard: Record<string, string[]> = { pulse: [], reverb: [], agent: [], observer: [] };
      for (const [login, subs] of Object.entries(listens) as Array<[keyof typeof listens, string[]]>) {
        for (const subject of subs)
          s.bus[login].subscribe(subject, (m) => heard[login]!.push(`${subject} ${dec(m.data)}`));
        await s.bus[login].flush();
      }
      // New lease records for the consumers to forward, then a real frame, control and report as markers.
      await (await s.bus.pulse.kv(`backbeat_${C}_lease`, { create: false })).put(
        STATE_KEYS.leader,
        encodeJson({ node_id: 'p1', term: 2, acquired_at: '2026-12-01T00:00:01Z' }),
      );
      const mirrorLease = await s.bus.agent.kv(`backbeat_${C}_lease`, { create: false });
      await waitFor(async () => (await mirrorLease.get(STATE_KEYS.leader))?.revision === before.lease + 1, {
        message: 'the new lease record in the mirror',
      });
      const infos = () =>
        Promise.all(made.map(async ([login, n]) => (await s.bus[login].jsm()).consumers.info(LEASE, n)));
      // In VIEW nothing listens on those subjects: the server sees no interest (push_bound false) and delivers nothing.
      expect((await infos()).map((c) => [c.name, c.push_bound ?? false, c.delivered.stream_seq])).toEqual(
        made.map(([, n]) => [n, false, 0]),
      );
      s.bus.pulse.publish(S.beat, enc('marker'));
      s.bus.pulse.publish(S.control, enc('marker'));
      // broadcast by the stream's republish
      await s.bus.reverb.publishDurable(S.reportStore, enc('marker'), { msgId: 'marker' });
      s.bus.reverb.publish(S.dlq, enc('marker'));
      const markers = (login: keyof typeof listens) => heard[login]!.filter((x) => x.endsWith(' marker')).length;
      await waitFor(
        () => (Object.keys(listens) as Array<keyof typeof listens>).every((l) => markers(l) === listens[l].length),
        { message: 'the markers everywhere' },
      );
      for (const [login, h] of Object.entries(heard))
        expect(
          h.filter((x) => !x.endsWith(' marker')),
          `${login} heard only the real messages`,
        ).toEqual([]);
      const after = await counts();
      // only pulse's record and reverb's markers
      expect(after).toEqual({ ...before, lease: before.lease + 1, reports: before.reports + 1, dlq: before.dlq + 1 });
    },
  );

  it(
    'roles attack - the agent and the observer cannot publish on the beat, control, ' +
      'reports, dead-letter or report-store subjects, nor write any bucket',
    async () => {
      for (const login of ['agent', 'observer'] as const) {
        for (const subject of [S.beat, S.control, S.reverb, S.dlq]) {
          s.bus[login].publish(subject, enc('forged'));
          await violation(login, new RegExp(`Permissions Violation for Publish to "${subject.replace(/\./g, '\\.')}"`));
        }
        await refused(s.bus[login].publishDurable(S.reportStore, enc('forged report'), { timeoutMs: 1000 }));
        const lease = await s.bus[login].kv(`backbeat_${C}_lease`, { create: false });
        await refused(lease.put(STATE_KEYS.leader, enc('mine')));
        await refused(lease.delete(STATE_KEYS.leader));
        await refused(s.bus[login].kv('agent_made_bucket'));
        await refused((await s.bus[login].jsm()).streams.delete(LEASE));
        await refused((await s.bus[login].jsm()).streams.purge(LEASE));
      }
      await refused(s.bus.observer.publishDurable(S.status, enc('claim'), { timeoutMs: 1000 }));
    },
  );

  it(
    'roles attack - no login publishes on the report broadcast subject, reverb included: a ' +
      "report reaches it only stored, through the report stream's republish",
    async () => {
      const heard: string[] = [];
      s.bus.observer.subscribe(S.reverb, (m) => heard.push(dec(m.data)));
      await s.bus.observer.flush();
      for (const login of ['agent', 'observer', 'reverb', 'pulse'] as const) {
        s.bus[login].publish(S.reverb, enc(`forged by ${login}`));
        await violation(login, new RegExp(`Permissions Violation for Publish to "${S.reverb.replace(/\./g, '\\.')}"`));
      }
      await s.bus.reverb.publishDurable(S.reportStore, enc('a stored report'), { msgId: 'stored-report' });
      await waitFor(() => heard.includes('a stored report'), {
        message: 'the stored report, republished, at the observer',
      });
      expect(heard).toEqual(['a stored report']);
    },
  );

  it(
    'roles attack - the agent and the observer cannot rewrite, delete or take ' +
      "over reverb's durable, nor list anyone's consumers",
    async () => {
      const before = await (await s.bus.reverb.jsm()).consumers.info(STATUS, 'reverb_r1');
      for (const login of ['agent', 'observer'] as const) {
        const jsm = await s.bus[login].jsm();
        await refused(jsm.consumers.update(STATUS, 'reverb_r1', { headers_only: true }));
        await refused(jsm.consumers.delete(STATUS, 'reverb_r1'));
        await refused(s.bus[login].consume({ stream: STATUS, durable: 'reverb_r1' }, () => {}));
        await refused(s.bus[login].listConsumers(STATUS));
        await refused(s.bus[login].listConsumers(LEASE));
      }
      const after = await (await s.bus.reverb.jsm()).consumers.info(STATUS, 'reverb_r1');
      expect(after.config).toEqual(before.config);
      // and reverb still gets whole claims
      await s.bus.agent.publishDurable(S.status, enc('claim-after'), { msgId: 'agent:a1|after' });
      await waitFor(() => reverbGot.some((m) => dec(m.data) === 'claim-after'), {
        message: 'the claim, whole, at reverb',
      });
    },
  );

  it("roles attack - no login reads another's replies or deliveries, nor the claims", async () => {
    for (const login of ['agent', 'observer'] as const) {
      const other = login === 'agent' ? 'observer' : 'agent';
      for (const subject of ['_INBOX.>', `_INBOX.${other}.>`, S.status, '>']) {
        s.bus[login].subscribe(subject, () => {});
        await violation(
          login,
          new RegExp(`Permissions Violation for Subscription to "${subject.replace(/[.$>]/g, (c) => `\\${c}`)}"`),
        );
      }
    }
    // The observer's stream read runs under its own prefix; the agent hears nothing of it, and no claim.
    const seen: string[] = [];
    s.bus.agent.subscribe('_INBOX.agent.>', (m) => seen.push(dec(m.data)));
    await s.bus.agent.flush();
    await s.bus.agent.publishDurable(S.status, enc('secret claim notes'), { msgId: 'agent:a1|secret' });
    await waitFor(() => reverbGot.some((m) => dec(m.data) === 'secret claim notes'), {
      message: 'the claim at reverb',
    });
    expect((await s.bus.observer.readStream({ stream: dlqStreamConfig(C).name })).length).toBeGreaterThanOrEqual(0);
    expect(seen.filter((x) => x.includes('secret claim notes') || x.includes('marker'))).toEqual([]);
  });
});
