/**
 * Claims no other login can suppress or forge (docs/spec.md §10 Security), on a real
 * nats-server with the deploy's own users (deploy/nats/auth.conf): every attack is made with
 * the agent login, the one an attacker among the agents holds.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHlc, hlcNodeSuffix, windowIdForBeat, type Logger } from '@backbeat/core';
import type { BarReport } from '@backbeat/contracts';
import { waitFor } from '@backbeat/testing';
import { MemoryBus, NatsBus, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { createClient, publicKeyBase64, type Client } from '@backbeat/sdk';
import { checkClaim, Reverb, TrustStore, type SignatureMode } from '@backbeat/reverb';
import { C, inboxOf, pass, startRolesServer, type RolesServer } from '../../transport/test/roles-server.js';

const S = subjects(C);
const BAR = 4;
const enc = new TextEncoder();
const victimKey = generateKeyPairSync('ed25519').privateKey;
const malloryKey = generateKeyPairSync('ed25519').privateKey;
const trust = TrustStore.parse(
  JSON.stringify({
    agents: { 'agent:victim': [publicKeyBase64(victimKey)], 'agent:mallory': [publicKeyBase64(malloryKey)] },
  }),
);

let roles: RolesServer;
let pulseBus: NatsBus;
let reverbBus: NatsBus;
let attacker: NatsBus;
let pulse: Pulse;
let reverb: Reverb;
let victim: Client;
const reports: BarReport[] = [];

beforeAll(async () => {
  // The deploy's own users and accounts (deploy/nats/auth.conf), mirrors included.
  roles = await startRolesServer();
  ({ pulse: pulseBus, reverb: reverbBus, agent: attacker } = roles.bus);
  pulse = new Pulse({
    bus: pulseBus,
    clusterId: C,
    nodeId: 'p1',
    bpm: 240,
    maxBpm: 1000,
    barLength: BAR,
    elector: 'single',
  });
  await pulse.start();
  reverb = new Reverb({ bus: reverbBus, clusterId: C, nodeId: 'forgery', signatures: 'verify', trust });
  reverb.onReport((r) => reports.push(r));
  await reverb.start();
  victim = createClient({
    clusterId: C,
    agentId: 'agent:victim',
    nats: { servers: roles.server.url, user: 'agent', pass: pass('agent'), inboxPrefix: inboxOf('agent') },
    signingKey: victimKey,
  });
  await victim.start();
  await waitFor(() => victim.currentBeat >= 0 && reverb.currentBeat >= 0, { timeoutMs: 10_000, message: 'the beat' });
}, 30_000);
afterAll(async () => {
  await victim?.stop();
  await reverb?.stop();
  await pulse?.stop();
  await roles?.stop();
});

/** The report of the bar holding `beat`, once published. */
const reportOf = (beat: number) =>
  waitFor(() => reports.find((r) => r.from_beat === beat - (beat % BAR)) ?? null, {
    timeoutMs: 20_000,
    message:
      `the report of beat ${beat} (reverb at beat ${reverb.currentBeat}, last ` +
      `report from beat ${reverb.lastReport?.from_beat})`,
  });

/** The Nats-Msg-Ids the SDK used to give an agent's claims (`<agent_id>|<hlc>`), for `ms` milliseconds from `from`. */
function predictedIds(agent: string, from: number, ms: number, counters: number): string[] {
  const node = hlcNodeSuffix(agent);
  const ids: string[] = [];
  for (let t = from; t < from + ms; t++)
    for (let l = 0; l < counters; l++) ids.push(`${agent}|${formatHlc({ physical: t, logical: l, node })}`);
  return ids;
}

describe('claims - no other login can suppress them', () => {
  it('suppress - junk stored first under every message id the old scheme predicts ' +
    'for the victim: its claims are still counted in its bar', async () => {
    // The ids of a window 3 s ahead (room for a loaded machine to store the junk first), 600 ms wide.
    const from = Date.now() + 3000;
    const ids = predictedIds('agent:victim', from, 600, 3);
    // The agent login stores junk under each id before the victim sends (as in the attack: all acknowledged).
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(
        ids.slice(i, i + 500).map((msgId) => attacker.publishDurable(S.status, enc.encode('junk'), { msgId })),
      );
    }
    expect(Date.now(), 'the junk was stored before the victim sends').toBeLessThan(from);
    await waitFor(() => Date.now() >= from, { timeoutMs: 3000, intervalMs: 5 });
    // The first beat of the next bar (claims may name a beat up to two bars ahead): stored well before that bar's
    // report.
    const beat = victim.currentBeat - (victim.currentBeat % BAR) + BAR;
    const sent = await Promise.all(
      ['planning', 'executing', 'reviewing'].map((state) =>
        victim.emitStatusClaim({ state: state as 'planning', beatIndex: beat }),
      ),
    );
    // The claims fall where the junk lies: under the old ids they were dropped as duplicates.
    for (const c of sent) {
      const [physical, logical] = c.hlc.split(':').map((g) => parseInt(g, 16)) as [number, number];
      expect(physical).toBeGreaterThanOrEqual(from);
      expect(physical).toBeLessThan(from + 600);
      expect(logical).toBeLessThan(3);
    }
    const report = await reportOf(beat);
    expect(report.agents_reporting).toBe(1);
    expect(report.state_counts).toEqual({ planning: 1, executing: 1, reviewing: 1 });
  }, 40_000);
});

describe('claims - the signature binds the agent (findings 1 and 3)', () => {
  it('impersonate - as a listed agent: unsigned, signed with another key, or under ' +
    'another x-agent-id, each refused with its reason in verify mode', async () => {
    const rejected = async (reason: string) => {
      const m = (await reverb.metrics.registry.metrics()).match(
        new RegExp(`backbeat_reverb_claims_rejected_total\\{reason="${reason}"\\} (\\d+)`),
      );
      return m ? Number(m[1]) : 0;
    };
    const before = {
      unsigned: await rejected('unsigned'),
      bad: await rejected('bad_signature'),
      mismatch: await rejected('agent_mismatch'),
    };
    const beat = reverb.currentBeat;
    let n = 0;
    const forged = (state: string) =>
      enc.encode(
        JSON.stringify({
          type: 'backbeat.statusclaim.v1',
          agent_id: 'agent:victim',
          beat_index: beat,
          state,
          hlc: `18bcfe56800:${(n++).toString(16).padStart(4, '0')}:abcd`,
        }),
      );
    const headers = (agent: string) => ({
      'x-agent-id': agent,
      'x-window-id': windowIdForBeat(C, beat, BAR),
      'x-hlc': '18bcfe56800:0000:abcd',
    });
    const unsigned = forged('failed');
    await attacker.publishDurable(S.status, unsigned, { headers: headers('agent:victim') }); // signature left out
    const wrongKey = forged('failed');
    await attacker.publishDurable(S.status, wrongKey, {
      headers: { ...headers('agent:victim'), 'x-signature': sign(null, wrongKey, malloryKey).toString('base64') },
    });
    const otherHeader = forged('failed');
    await attacker.publishDurable(S.status, otherHeader, {
      headers: { ...headers('agent:mallory'), 'x-signature': sign(null, otherHeader, malloryKey).toString('base64') },
    });
    await waitFor(
      async () =>
        (await rejected('agent_mismatch')) > before.mismatch &&
        (await rejected('bad_signature')) > before.bad &&
        (await rejected('unsigned')) > before.unsigned,
      {
        timeoutMs: 5000,
        message: 'the three refusals',
      },
    );
    // A refusal counts in the bar it was stored in: this one, or the next on a slow machine.
    const both = [await reportOf(beat), await reportOf(beat + BAR)];
    expect(both.map((r) => r.state_counts?.failed ?? 0)).toEqual([0, 0]); // none counted as the victim
    expect(both.flatMap((r) => r.issues.map((i) => i.category))).toEqual(
      expect.arrayContaining(['unsigned', 'bad_signature', 'agent_mismatch']),
    );
  }, 40_000);
});

describe('claims - what each signature mode accepts (docs/spec.md §10 Security)', () => {
  const claim = (agent: string) =>
    enc.encode(
      JSON.stringify({
        type: 'backbeat.statusclaim.v1',
        agent_id: agent,
        beat_index: 5,
        state: 'executing',
        hlc: '18bcfe56800:0001:abcd',
      }),
    );
  const verdict = (mode: SignatureMode, agent: string, signedBy?: typeof victimKey, header = agent) => {
    const data = claim(agent);
    const h: Record<string, string> = { 'x-agent-id': header };
    if (signedBy) h['x-signature'] = sign(null, data, signedBy).toString('base64');
    const v = checkClaim(data, h, { mode, trust, maxBytes: 65_536, currentBeat: 5, replayBeats: 8 });
    return v.accept ? (v.unsignedAccepted ? 'unsigned_accepted' : 'accepted') : v.reason;
  };

  it(
    'modes - an agent in the trust file is verified in off, verify and require; agents ' +
      'not in it: off accepts, verify accepts unsigned, require refuses',
    () => {
      for (const mode of ['off', 'verify', 'require'] as const) {
        expect(verdict(mode, 'agent:victim', victimKey), mode).toBe('accepted');
        expect(verdict(mode, 'agent:victim'), mode).toBe('unsigned');
        expect(verdict(mode, 'agent:victim', malloryKey), mode).toBe('bad_signature');
        expect(verdict(mode, 'agent:victim', victimKey, 'agent:mallory'), mode).toBe('agent_mismatch');
      }
      expect([verdict('off', 'agent:stranger'), verdict('off', 'agent:stranger', malloryKey)]).toEqual([
        'accepted',
        'accepted',
      ]);
      expect([verdict('verify', 'agent:stranger'), verdict('verify', 'agent:stranger', malloryKey)]).toEqual([
        'unsigned_accepted',
        'unknown_agent',
      ]);
      expect([verdict('require', 'agent:stranger'), verdict('require', 'agent:stranger', malloryKey)]).toEqual([
        'unsigned',
        'unknown_agent',
      ]);
    },
  );

  it(
    'modes - a reverb that accepts unsigned claims of agents not in the trust ' +
      'file says so once at start; require says nothing',
    async () => {
      const warned = async (mode: SignatureMode) => {
        const lines: string[] = [];
        const log: Logger = {
          debug: () => {},
          info: () => {},
          error: () => {},
          warn: (_o, m) => void lines.push(m ?? ''),
          child: () => log,
        };
        const bus = new MemoryBus();
        const r = new Reverb({
          bus,
          clusterId: 'modes',
          nodeId: `m-${mode}`,
          barLength: 4,
          signatures: mode,
          trust,
          logger: log,
        });
        await r.start();
        await r.stop();
        await bus.close();
        return lines.filter((l) => /not in the trust file are accepted/.test(l));
      };
      expect(await warned('off')).toEqual([expect.stringMatching(/accepted signed or not/)]);
      expect(await warned('verify')).toEqual([expect.stringMatching(/accepted unsigned/)]);
      expect(await warned('require')).toEqual([]);
    },
  );
});
