/**
 * Who may move a beat-critical stream's leader (docs/security.md Roles; docs/spec.md §7 Election,
 * terms and fencing, "Stream placement"), on a real 3-node nats-server cluster running
 * deploy/nats/auth.conf: the pulse login may ask the lease and state streams' leaders of its cluster
 * to step down, and a pulse running as that login keeps them off its server; no other login (agent,
 * observer, view, reverb) can step them down, and the pulse login cannot step down any other stream.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster, waitFor } from '@backbeat/testing';
import {
  NatsBus,
  openLeaseBucket,
  openPresenceBucket,
  openStateBucket,
  statusStreamConfig,
  type BusEvent,
} from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';

const C = 'chorus-aus-01';
const LOGINS = ['pulse', 'reverb', 'agent', 'observer', 'view'] as const;
type Login = (typeof LOGINS)[number];
const pass = (l: Login): string => `${l}-secret-for-placement-test`;
const inboxOf = (l: Login): string | undefined =>
  l === 'agent' || l === 'observer' || l === 'view' ? `_INBOX.${l}` : undefined;
const authConf = readFileSync(fileURLToPath(new URL('../../../deploy/nats/auth.conf', import.meta.url)), 'utf8');
const LEASE = `KV_backbeat_${C}_lease`;
const STATE = `KV_backbeat_${C}_state`;
const PRESENCE = `KV_backbeat_${C}_presence`;
const STEPDOWN = '$JS.API.STREAM.LEADER.STEPDOWN.';

let cluster: NatsCluster;
const bus = {} as Record<Login, NatsBus>;
const errors = {} as Record<Login, string[]>;
let pulse: Pulse | undefined;
let pulseBus: NatsBus | undefined;

beforeAll(async () => {
  const vars = LOGINS.map((l) => `BACKBEAT_NATS_${l.toUpperCase()}_PASS: "${pass(l)}"`).join('\n');
  cluster = await NatsCluster.start(3, { name: 'roles', config: `${vars}\n${authConf}` });
  for (const l of LOGINS) {
    const inboxPrefix = inboxOf(l);
    bus[l] = await NatsBus.connect({
      servers: cluster.urls,
      user: l,
      pass: pass(l),
      name: `placement-${l}`,
      ...(inboxPrefix ? { inboxPrefix } : {}),
    });
    errors[l] = [];
    bus[l].onStatus((e: BusEvent) => e.type === 'error' && errors[l].push(e.error.message));
  }
  await openLeaseBucket(bus.pulse, C, { ttlMs: 2000, replicas: 3 });
  await openStateBucket(bus.pulse, C, { replicas: 3 });
  await openPresenceBucket(bus.pulse, C, { replicas: 3 });
  await bus.reverb.ensureStream({ ...statusStreamConfig(C), replicas: 3 });
}, 90_000);
afterAll(async () => {
  await pulse?.stop();
  await pulseBus?.close();
  for (const l of LOGINS) await bus[l]?.close();
  await cluster?.stop();
}, 60_000);

/** Index of the node leading `stream`, waiting while it elects one. */
const leaderOf = (stream: string): Promise<number> => cluster.streamLeader(stream, 10_000);

/** A step-down as `login` asks it (empty body; with `preferred`, a named peer: nats-server 2.11+). */
async function stepDown(login: Login, stream: string, preferred?: string): Promise<string> {
  const body = preferred ? JSON.stringify({ placement: { preferred } }) : '';
  const msg = await bus[login].request(`${STEPDOWN}${stream}`, new TextEncoder().encode(body), { timeoutMs: 3000 });
  return new TextDecoder().decode(msg.data);
}

describe('stream placement roles - deploy/nats/auth.conf on a 3-node cluster', () => {
  it('stream placement roles - agent, observer, view, reverb cannot step down lease or state', async () => {
    for (const stream of [LEASE, STATE]) {
      await cluster.waitForStreamCurrent(stream, 3, 20_000);
      const before = await leaderOf(stream);
      for (const login of ['agent', 'observer', 'view', 'reverb'] as const) {
        const err = await stepDown(login, stream).then(
          (answer) => new Error(`answered: ${answer}`),
          (e: unknown) => e as Error,
        );
        expect(err.message, `${login} stepping down ${stream}`).not.toMatch(/^answered/);
        const violation = new RegExp(
          `Permissions Violation for Publish to "${(STEPDOWN + stream).replace(/[.$]/g, (c) => `\\${c}`)}"`,
        );
        await waitFor(() => errors[login].some((m) => violation.test(m)), { message: `the refusal of ${login}` });
      }
      await new Promise((r) => setTimeout(r, 1000)); // a step-down that got through would have moved it by now
      expect(await leaderOf(stream), `${stream} stays on its node`).toBe(before);
    }
  }, 60_000);

  it('stream placement roles - the pulse login steps down its lease and state streams and no other', async () => {
    for (const stream of [LEASE, STATE]) {
      await cluster.waitForStreamCurrent(stream, 3, 20_000);
      const before = await leaderOf(stream);
      expect(JSON.parse(await stepDown('pulse', stream))).toMatchObject({ success: true });
      await waitFor(async () => (await leaderOf(stream)) !== before, {
        timeoutMs: 10_000,
        message: `${stream} to move`,
      });
    }
    for (const stream of [PRESENCE, statusStreamConfig(C).name, 'KV_backbeat_other-cluster_lease']) {
      await expect(stepDown('pulse', stream)).rejects.toThrow();
      const violation = new RegExp(
        `Permissions Violation for Publish to "${(STEPDOWN + stream).replace(/[.$]/g, (c) => `\\${c}`)}"`,
      );
      await waitFor(() => errors.pulse.some((m) => violation.test(m)), { message: `the refusal of ${stream}` });
    }
  }, 60_000);

  it('stream placement roles - a pulse running as the pulse login moves the lease stream off its server', async () => {
    /** Puts `stream`'s leader on node `node` (a step-down naming it; the pulse login may). */
    const putOn = (stream: string, node: number): Promise<boolean> =>
      waitFor(
        async () => {
          await cluster.waitForStreamCurrent(stream, 3, 20_000);
          if ((await leaderOf(stream)) === node) return true;
          await stepDown('pulse', stream, cluster.names[node]).catch(() => '');
          return false;
        },
        { timeoutMs: 20_000, intervalMs: 500, message: `${stream} on node ${node}` },
      );
    // Both streams start off node 0, so the pulse's first look has nothing to do.
    await putOn(LEASE, 1);
    await putOn(STATE, 1);
    const lines: string[] = [];
    const log = (o: object, msg = ''): void => void lines.push(`${msg} ${JSON.stringify(o)}`);
    const logger = { debug: () => {}, info: log, warn: log, error: log, child: () => logger };
    pulseBus = await NatsBus.connect({
      servers: [cluster.urls[0]!],
      user: 'pulse',
      pass: pass('pulse'),
      name: 'placement-pulse',
    });
    pulse = new Pulse({
      bus: pulseBus,
      clusterId: C,
      nodeId: 'p0',
      leaseTtlMs: 2000,
      replicas: 3,
      bpm: 120,
      maxBpm: 120,
      logger,
    });
    await pulse.start();
    await waitFor(() => pulse!.leaderStatus().is_leader, { timeoutMs: 10_000, message: 'p0 to lead' });
    await putOn(LEASE, 0);
    await waitFor(async () => (await leaderOf(LEASE)) !== 0, {
      timeoutMs: 6000,
      intervalMs: 50,
      message: 'the pulse to move the lease stream',
    }).catch((err: unknown) => {
      console.log(lines.join('\n'));
      throw err;
    });
    expect(await pulse.metrics.streamStepdowns.get()).toMatchObject({
      values: [{ labels: { stream: LEASE, reason: 'colocated' }, value: 1 }],
    });
    expect(lines.filter((l) => l.includes('step down'))).toEqual([
      expect.stringContaining(`"stream":"${LEASE}","server":"roles-0"`),
    ]);
  }, 60_000);
});
