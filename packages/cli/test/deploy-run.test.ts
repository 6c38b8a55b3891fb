/**
 * The deploy, as written, runs (deploy/README.md Checks): deploy/docker-compose.yml is read,
 * its NATS nodes run the pinned nats-server from deploy/nats/nats-server.conf and auth.conf
 * (ports and store directories templated to loopback and temporary directories), and each
 * BACKBEAT service runs the built CLI with the compose file's own command line and environment,
 * in depends_on order. Passwords are made as `openssl rand -hex 24` makes them, several starting
 * with a digit. Then, through the role logins: the beat flows, signed claims are counted in bar
 * reports, dead letters show, `backbeat status` works, every compose health check passes, and
 * the lease expires visibly through the VIEW mirror when the leading pulse is killed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsServerBinary, readVersion, waitFor } from '@backbeat/testing';
import { createClient } from '@backbeat/sdk';
import { NatsBus, STATE_KEYS, dlqStreamConfig, type KvWatchEvent } from '@backbeat/transport';
import { interpolate, loadCompose, runHealthcheck } from './compose-native.js';
import {
  AGENTS,
  C,
  N,
  ROLES,
  S,
  agentBus,
  agentFrames,
  buses,
  cli,
  compose,
  dec,
  deploy,
  frames,
  healthchecks,
  hosts,
  liveDlq,
  login,
  natsUrls,
  observer,
  ourServices,
  pass,
  procs,
  read,
  reports,
  secrets,
  tmp,
  trustFile,
  useDeployRun,
} from './deploy-up.js';

useDeployRun();

describe('deploy run - the compose file as written, natively on loopback', () => {
  it(
    'deploy run - compose substitutions: a missing password stops it with ' +
      'its name; the nodes get each password double-quoted',
    () => {
      const { BACKBEAT_NATS_OBSERVER_PASS: _, ...without } = secrets;
      expect(() => loadCompose(join(deploy, 'docker-compose.yml'), without)).toThrow(/BACKBEAT_NATS_OBSERVER_PASS/);
      expect(interpolate('${A:-x} ${B-y} $$C ${A}', { A: '1' })).toBe('1 y $C 1');
      for (const n of ourServices(compose).nats) {
        for (const r of ROLES)
          expect(compose.services[n]!.environment![`BACKBEAT_NATS_${r}_PASS`], `${n} ${r}`).toBe(`"${pass(r)}"`);
      }
      expect(Object.values(secrets).filter((s) => /^\d/.test(s)).length).toBeGreaterThanOrEqual(5);
    },
  );

  it(
    'deploy run - the NATS nodes run the pinned version, nats-server.conf templated ' +
      'to loopback with sync_interval always, auth.conf as written',
    async () => {
      const { nats, other } = ourServices(compose);
      expect(nats).toEqual(['nats-1', 'nats-2', 'nats-3']);
      // third-party images; deploy.test.ts checks their files with promtool
      expect(other.sort()).toEqual(['grafana', 'prometheus']);
      const version = readVersion(natsServerBinary().path);
      for (const n of nats) {
        expect(compose.services[n]!.image, n).toBe(`nats:${version}-alpine`);
        const conf = readFileSync(join(tmp, n, 'nats', 'nats-server.conf'), 'utf8');
        expect(conf).toMatch(/^\s+sync_interval: always$/m);
        expect(conf).not.toMatch(/0\.0\.0\.0|nats-\d:|"\/data"/);
        expect(readFileSync(join(tmp, n, 'nats', 'auth.conf'), 'utf8')).toBe(read('nats/auth.conf'));
        const varz = (await (await fetch(`http://127.0.0.1:${await hosts.port(n, 8222)}/varz`)).json()) as {
          server_name: string;
          version: string;
          host: string;
          cluster: { name: string; urls?: string[] };
          jetstream: { config: { sync_interval?: number; sync_always?: boolean; store_dir: string } };
        };
        expect(varz).toMatchObject({ server_name: n, version, host: '127.0.0.1', cluster: { name: 'backbeat' } });
        expect(varz.jetstream.config.store_dir).toContain(tmp);
        expect(varz.jetstream.config.sync_always, `${n} sync_interval: always`).toBe(true);
        const routez = (await (await fetch(`http://127.0.0.1:${await hosts.port(n, 8222)}/routez`)).json()) as {
          num_routes: number;
        };
        expect(routez.num_routes, n).toBeGreaterThanOrEqual(2);
      }
    },
  );

  it('deploy run - every service passes its compose health check, and none has exited', () => {
    expect([...healthchecks.keys()].sort()).toEqual(['nats-1', 'nats-2', 'nats-3', 'pulse-1', 'pulse-2', 'reverb']);
    for (const [name, hc] of healthchecks) {
      const r = runHealthcheck(hc.test, hc.timeoutMs);
      expect(r.ok, `${name}: ${hc.test.join(' ')} -> ${r.output}`).toBe(true);
      expect(procs.get(name)!.running, name).toBe(true);
    }
  });

  it(
    'deploy run - the mirrors job made the VIEW mirrors at 3 replicas and exited ' +
      '0; the lease mirror follows a lease with limit markers',
    async () => {
      const mirrors = procs.get('mirrors')!;
      expect(await mirrors.exited).toBe(0);
      for (const origin of [
        `KV_${N.leaseBucket}`,
        `KV_${N.stateBucket}`,
        `KV_${N.presenceBucket}`,
        dlqStreamConfig(C).name,
      ]) {
        expect(mirrors.stdout).toMatch(new RegExp(`mirror ${origin}: (created|up to date)`));
      }
      // The origin, as the observer may read it (STREAM.INFO of the lease is served by the VIEW mirror):
      // read the origin's settings with the pulse login, the mirror's with the view login.
      const pulse = await NatsBus.connect({
        servers: natsUrls.split(','),
        user: 'pulse',
        pass: pass('PULSE'),
        name: 'deploy-run-pulse',
      });
      const view = await NatsBus.connect({
        servers: natsUrls.split(','),
        user: 'view',
        pass: pass('VIEW'),
        inboxPrefix: '_INBOX.view',
        name: 'deploy-run-view',
      });
      buses.push(pulse, view);
      const origin = await (await pulse.jsm()).streams.info(`KV_${N.leaseBucket}`);
      const mirror = await (await view.jsm()).streams.info(`KV_${N.leaseBucket}`);
      expect(
        origin.config.subject_delete_marker_ttl ?? 0,
        'the lease bucket has limit markers (nats-server 2.11.7+)',
      ).toBeGreaterThan(0);
      expect(origin.config.num_replicas).toBe(3);
      expect(mirror.config).toMatchObject({
        mirror: { name: `KV_${N.leaseBucket}` },
        num_replicas: 3,
        max_age: origin.config.max_age,
        allow_msg_ttl: true,
        deny_delete: true,
      });
      expect(mirror.cluster?.replicas?.length, 'the mirror has two more copies').toBe(2);
      // Why the mirror has no marker TTL of its own: the server refuses one on a mirror (the origin's
      // markers reach it as messages).
      await expect(
        (await view.jsm()).streams.update(`KV_${N.leaseBucket}`, {
          ...mirror.config,
          subject_delete_marker_ttl: origin.config.subject_delete_marker_ttl,
        }),
      ).rejects.toThrow(/subject delete markers forbidden on mirrors/);
    },
  );

  it(
    'deploy run - the admin token reaches pulse and reverb through their environment: reverb ' +
      'forwards a tempo change to pulse-1 (401 without it, the rule with it)',
    async () => {
      // The services listen on 127.0.0.1 here (tests use loopback only); compose's 0.0.0.0 needs the
      // token, which this shows they have.
      const post = async (url: string, auth?: string) => {
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: JSON.stringify({ tempo_bpm: 100, justification: 'deploy run' }),
        });
        return { status: r.status, body: JSON.stringify(await r.json()) };
      };
      const token = `Bearer ${secrets.BACKBEAT_ADMIN_TOKEN}`;
      for (const url of [
        `http://127.0.0.1:${await hosts.port('reverb', 8090)}/api/v1/tempo`,
        `http://127.0.0.1:${await hosts.port('pulse-2', 8081)}/tempo`,
      ]) {
        expect((await post(url)).status, url).toBe(401);
        expect((await post(url, 'Bearer wrong')).status, url).toBe(401);
        const withToken = await post(url, token);
        // 100 BPM is above --max-bpm 24: refused by the rule, not the token
        expect(withToken.status, `${url}: ${withToken.body}`).toBe(400);
        expect(withToken.body).toMatch(/24/);
      }
    },
  );

  it('deploy run - the beat flows: the observer and agent logins hear the leader frames', async () => {
    await waitFor(() => frames.length >= 3 && agentFrames.length >= 3, {
      timeoutMs: 15_000,
      message: 'three frames at the observer and the agent',
    });
    expect(frames[0]).toMatchObject({ cluster_id: C });
    expect(frames.at(-1)!.term).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < frames.length; i++)
      expect(frames[i]!.beat_index).toBeGreaterThanOrEqual(frames[i - 1]!.beat_index);
  });

  it(
    'deploy run - backbeat status with the observer login shows the leader, ' +
      'both pulse nodes, reverb and the three NATS servers',
    async () => {
      type Status = {
        leader?: { node_id: string; term: number };
        pulse_nodes: Array<{ node_id: string }>;
        reverb_replicas: Array<{ node_id: string }>;
        servers: Array<{ name: string }>;
      };
      // Presence entries are refreshed every 5 s (a write that failed on the fresh cluster is retried then).
      const s = await waitFor(
        () => {
          const r = cli(['status', '--cluster', C, '--json', ...login('observer')], 'OBSERVER');
          if (r.status !== 0) throw new Error(`backbeat status exited ${r.status}: ${r.stderr}`);
          const st = JSON.parse(r.stdout) as Status;
          return st.pulse_nodes.length === 2 && st.reverb_replicas.length === 1 ? st : null;
        },
        { timeoutMs: 12_000, intervalMs: 1000, message: 'both pulse nodes and reverb in backbeat status' },
      );
      expect(['pulse-1', 'pulse-2']).toContain(s.leader?.node_id);
      expect(s.pulse_nodes.map((n) => n.node_id).sort()).toEqual(['pulse-1', 'pulse-2']);
      expect(s.reverb_replicas.map((n) => n.node_id)).toEqual(['reverb-1']);
      expect(s.servers.map((x) => x.name).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
      const text = cli(['status', '--cluster', C, ...login('observer')], 'OBSERVER');
      expect(text.status, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/leader\s+pulse-[12], term \d+/);
    },
  );

  it('deploy run - a malformed and a forged claim from the agent login are ' +
    'dead-lettered: heard live by the observer, listed by backbeat dlq', async () => {
    const ack = await agentBus.publishDurable(S.status, new TextEncoder().encode('not a claim {deploy-run}'), {
      msgId: `deploy-run-${Date.now()}`,
    });
    expect(ack.duplicate).toBe(false);
    // A claim of a trusted agent (the first one `backbeat agent --trust-out` wrote) signed with a key that is not in
    // the trust file.
    const trusted = Object.keys(
      (JSON.parse(readFileSync(trustFile, 'utf8')) as { agents: Record<string, unknown> }).agents,
    )[0]!;
    const forger = createClient({
      clusterId: C,
      agentId: trusted,
      bus: agentBus,
      signingKey: generateKeyPairSync('ed25519').privateKey,
    });
    await forger.start();
    try {
      await waitFor(() => forger.currentBeat >= 0, { timeoutMs: 10_000, message: 'a beat at the forger' });
      await forger.emitStatusClaim({ state: 'executing', taskId: 'task:forged-deploy-run' });
    } finally {
      await forger.stop();
    }
    await waitFor(
      () =>
        liveDlq.some((d) => d.data.includes('{deploy-run}')) &&
        liveDlq.some((d) => d.data.includes('task:forged-deploy-run')),
      {
        timeoutMs: 10_000,
        message: 'both dead letters heard live by the observer',
      },
    );
    expect(liveDlq.find((d) => d.data.includes('{deploy-run}'))!.reason).toBe('invalid');
    expect(liveDlq.find((d) => d.data.includes('task:forged-deploy-run'))!.reason).toBe('bad_signature');
    // backbeat dlq reads the VIEW mirror of the dead-letter stream.
    const listed = await waitFor(
      () => {
        const r = cli(['dlq', '--cluster', C, '--json', ...login('observer')], 'OBSERVER');
        if (r.status !== 0) throw new Error(`backbeat dlq exited ${r.status}: ${r.stderr}`);
        const letters = r.stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { reason: string; agent_id: string | null; payload: string });
        return letters.some((l) => l.payload.includes('{deploy-run}')) &&
          letters.some((l) => l.payload.includes('task:forged-deploy-run'))
          ? letters
          : null;
      },
      { timeoutMs: 15_000, intervalMs: 500, message: 'both dead letters in backbeat dlq' },
    );
    expect(listed.find((l) => l.payload.includes('task:forged-deploy-run'))).toMatchObject({
      reason: 'bad_signature',
      agent_id: trusted,
    });
    expect(listed.find((l) => l.payload.includes('{deploy-run}'))).toMatchObject({ reason: 'invalid' });
  }, 40_000);

  it('deploy run - signed claims of backbeat agent --sign are verified ' +
    'against the trust file and counted in a bar report', async () => {
    expect(Object.keys((JSON.parse(readFileSync(trustFile, 'utf8')) as { agents: object }).agents)).toHaveLength(
      AGENTS,
    );
    // 12 BPM and 8-beat bars (compose's pulse defaults): the first downbeat after the grid starts is 40 s in.
    const report = await waitFor(() => reports.find((r) => r.agents_reporting === AGENTS), {
      timeoutMs: 60_000,
      intervalMs: 200,
      message: `a bar report counting the ${AGENTS} agents`,
    });
    const counted = Object.values(report.state_counts ?? {}).reduce((a, b) => a + b, 0);
    expect(counted).toBeGreaterThanOrEqual(AGENTS);
    // verify mode accepts unsigned claims but marks the report; these were signed and verified
    expect(JSON.stringify(report.issues)).not.toContain('unsigned_accepted');
    const metrics = await (await fetch(`http://127.0.0.1:${await hosts.port('reverb', 8090)}/metrics`)).text();
    expect(metrics).toMatch(/backbeat_reverb_claims_total\{outcome="accepted"\} [1-9]/);
    expect(metrics).toMatch(/backbeat_reverb_claims_rejected_total\{reason="bad_signature"\} 1$/m);
  }, 70_000);

  it('deploy run - kill -9 of the leading pulse: the standby takes the lease with a ' +
    'new term, and the observer sees it through the VIEW mirror', async () => {
    const lease = await observer.kv(N.leaseBucket, { create: false });
    const leader = JSON.parse(dec((await lease.get(STATE_KEYS.leader))!.value)) as { node_id: string; term: number };
    const events: KvWatchEvent[] = [];
    const w = await lease.watch(STATE_KEYS.leader, (e) => events.push(e));
    const holder = (e: KvWatchEvent) =>
      e.operation === 'put' ? (JSON.parse(dec(e.value)) as { node_id: string; term: number }) : undefined;
    try {
      const killedAt = Date.now();
      procs.get(leader.node_id)!.kill('SIGKILL');
      // The standby takes the lease by compare-and-set once it was not renewed for the TTL (or
      // after the server's expiry, whose limit marker the mirror carries): a put of a new term.
      await waitFor(() => events.some((e) => (holder(e)?.term ?? 0) > leader.term), {
        timeoutMs: 10_000,
        message: 'the new term in the lease, through the mirror',
      });
      const takenAfter = Date.now() - killedAt;
      await waitFor(() => (frames.at(-1)!.term ?? 0) > leader.term, {
        timeoutMs: 10_000,
        message: 'frames of a new term',
      });
      const lastOld = frames.filter((f) => f.term === leader.term).at(-1)!;
      const firstNew = frames.find((f) => (f.term ?? 0) > leader.term)!;
      const now = JSON.parse(dec((await lease.get(STATE_KEYS.leader))!.value)) as { node_id: string; term: number };
      expect(now.node_id).not.toBe(leader.node_id);
      expect(now.term).toBeGreaterThan(leader.term);
      console.log(
        `deploy run: the new term seen through the mirror ${takenAfter} ms after kill -9 of ${leader.node_id}; ` +
          `frames: last of term ${leader.term} to first of term ${firstNew.term} ${firstNew.at - lastOld.at} ms`,
      );
    } finally {
      w.stop();
    }
  }, 30_000);
});
