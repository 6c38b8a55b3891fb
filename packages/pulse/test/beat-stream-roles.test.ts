/**
 * The beat stream under deploy/nats/auth.conf (docs/security.md Roles), on a real nats-server:
 * a pulse logged in as "pulse" makes the beat stream and its frames, republished by the
 * stream, reach the FLEET logins on the beat subject with their term header; the agent, the
 * observer and reverb cannot write the stream's input subjects nor change the stream, each
 * attack performed with the login that would try it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { subjects, type BusMsg } from '@backbeat/transport';
import { parseBeatFrame, parseTermHeader, TERM_HEADER } from '@backbeat/contracts';
import { Pulse } from '@backbeat/pulse';
import { C, refused, startRolesServer, type Login, type RolesServer } from '../../transport/test/roles-server.js';
import { beatStreamNames } from '@backbeat/pulse/internal';

const S = subjects(C);
const B = beatStreamNames(C);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('beat stream roles - deploy/nats/auth.conf', () => {
  let s: RolesServer;
  let pulse: Pulse | undefined;
  beforeAll(async () => {
    s = await startRolesServer();
  }, 60_000);
  afterAll(async () => {
    await pulse?.stop();
    await s?.stop();
  });

  const violation = (login: Login, subject: string) =>
    waitFor(() => s.errors[login].some((m) => m.includes(`Permissions Violation for Publish to "${subject}"`)), {
      message: `the refusal of ${subject} for ${login}`,
    });

  it(
    "beat stream roles - the pulse login's frames reach the agent and the observer through " +
      'the stream; agent, observer and reverb cannot write or change it',
    async () => {
      const heard: Record<'agent' | 'observer', BusMsg[]> = { agent: [], observer: [] };
      for (const login of ['agent', 'observer'] as const) {
        s.bus[login].subscribe(S.beat, (m) => heard[login].push(m));
        await s.bus[login].flush();
      }
      pulse = new Pulse({ bus: s.bus.pulse, clusterId: C, nodeId: 'p1', bpm: 300, maxBpm: 300, leaseTtlMs: 5000 });
      await pulse.start();
      await waitFor(() => heard.agent.length >= 3 && heard.observer.length >= 3, {
        timeoutMs: 8000,
        message: 'frames at the agent and the observer',
      });
      expect(pulse.emitterStatus().where).toBe('inline');
      for (const m of [...heard.agent, ...heard.observer]) {
        expect(parseBeatFrame(m.data).ok).toBe(true);
        expect(parseTermHeader(m.headers[TERM_HEADER])).toBe(pulse.leaderStatus().term);
        expect(m.headers['Nats-Stream']).toBe(B.stream);
      }

      const jsmPulse = await s.bus.pulse.jsm();
      const before = (await jsmPulse.streams.info(B.stream)).state.last_seq;
      for (const login of ['agent', 'observer', 'reverb'] as const) {
        for (const subject of [B.beatIn, B.controlIn]) {
          s.bus[login].publish(subject, enc(`forged by ${login}`), { headers: { [TERM_HEADER]: '999' } });
          await violation(login, subject);
          await refused(s.bus[login].publishDurable(subject, enc(`forged by ${login}`), { timeoutMs: 1000 }));
        }
        const jsm = await s.bus[login].jsm();
        await refused(jsm.streams.update(B.stream, { subjects: [B.beatIn, B.controlIn, `backbeat.${C}.status`] }));
        await refused(jsm.streams.purge(B.stream));
        await refused(jsm.streams.delete(B.stream));
      }
      const n = heard.agent.length;
      await waitFor(() => heard.agent.length >= n + 2, { timeoutMs: 3000, message: 'frames after the attacks' });
      for (const m of [...heard.agent, ...heard.observer]) expect(dec(m.data)).not.toContain('forged');
      const info = await jsmPulse.streams.info(B.stream);
      expect(info.state.last_seq).toBeGreaterThan(before); // the pulse writes on
      const last = await jsmPulse.direct.getMessage(B.stream, { last_by_subj: B.beatIn });
      expect(parseTermHeader(last!.header.get(TERM_HEADER))).toBe(pulse.leaderStatus().term);
    },
  );
});
