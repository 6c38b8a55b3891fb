import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import { readPresence } from '@backbeat/transport';
import { collectFrames, gridProblems } from './helpers.js';
import { getJson, pulseBin, usePulseProcesses } from './process.js';

const fx = usePulseProcesses();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every sample of `name` in a /metrics text, by its label set. */
async function gauge(admin: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('pulse - metrics that are true', () => {
  it(
    'metrics - after a tempo change and a failover every node ' + 'reports the tempo in force, who leads and the term',
    async () => {
      const cluster = 'truth';
      const seen = collectFrames(fx.observer, cluster);
      // Started side by side: whichever takes the lease is a, the other b. 2-beat bars: the tempo
      // change waits at most a bar (1 s) for its downbeat, not 8 beats (4 s).
      const both = await Promise.all(
        ['one', 'two'].map((id) => fx.start(cluster, id, ['--lease-ttl', '1000', '--bar', '2'])),
      );
      const a = await waitFor(
        async () => {
          for (const p of both) if ((await getJson(`${p.admin}/leader`)).is_leader === true) return p;
          return undefined;
        },
        { timeoutMs: 5000, message: 'one of the two to lead' },
      );
      const b = both.find((p) => p !== a)!;
      await waitFor(async () => (await getJson(`${b.admin}/leader`)).leader === a.nodeId, {
        message: 'the other to follow it',
      });
      for (const p of [a, b]) expect(await gauge(p.admin, 'backbeat_tempo_bpm')).toBe(120);

      const r = await fetch(`${b.admin}/tempo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tempo_bpm: 110 }),
      });
      expect(r.status).toBe(202);
      await waitFor(() => seen.frames.some((f) => f.frame.tempo_bpm === 110), {
        timeoutMs: 8000,
        message: 'a frame at 110 BPM',
      });
      for (const p of [a, b])
        await waitFor(async () => (await gauge(p.admin, 'backbeat_tempo_bpm')) === 110, {
          message: `${p.nodeId} to report 110 BPM`,
        });
      expect(await gauge(a.admin, 'backbeat_is_leader')).toBe(1);
      expect(await gauge(b.admin, 'backbeat_is_leader')).toBe(0);
      expect(await gauge(b.admin, 'backbeat_leadership_term')).toBe(1);

      a.proc.kill('SIGKILL');
      await waitFor(async () => (await getJson(`${b.admin}/leader`)).is_leader === true, {
        timeoutMs: 4000,
        message: 'b to take over',
      });
      await waitFor(() => seen.frames.filter((f) => f.term === 2).length >= 3, { timeoutMs: 3000 });
      expect(await gauge(b.admin, 'backbeat_tempo_bpm')).toBe(110);
      expect(await gauge(b.admin, 'backbeat_is_leader')).toBe(1);
      expect(await gauge(b.admin, 'backbeat_leadership_term')).toBe(2);
      expect(await getJson(`${b.admin}/leader`)).toMatchObject({
        term: 2,
        previous_leader: a.nodeId,
        change_reason: 'lease expired',
      });
      expect(gridProblems(seen.frames)).toEqual([]);

      // Presence: the node announces its role, term, leader and admin address.
      await waitFor(
        async () => {
          const entry = (await readPresence(fx.observer, cluster)).find((e) => e.node_id === b.nodeId);
          return entry?.info.role === 'leader' && entry.info.term === 2 && entry.info.admin === b.admin;
        },
        { timeoutMs: 8000, message: "b's presence entry to show it leads" },
      );
      seen.stop();
    },
  );
});

describe('pulse - setup that stays', () => {
  it('node id - a restart with --data-dir and without --node-id keeps the name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bb-pulse-'));
    dirs.push(dir);
    const args = (extra: string[]) => [
      'pulse',
      '--cluster',
      'keepname',
      '--nats',
      fx.server.url,
      '--admin-port',
      '0',
      '--data-dir',
      dir,
      ...extra,
    ];
    const run = async (extra: string[]) => {
      const proc = fx.track(ManagedProcess.node(pulseBin, args(extra), { env: { BACKBEAT_LOG_FORMAT: 'json' } }));
      const m = await proc.waitForOutput(/"admin":"(http:\/\/127\.0\.0\.1:\d+)"/, 15_000);
      const id = (await getJson<{ node_id: string }>(`${m[1]!}/leader`)).node_id;
      proc.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      return id;
    };
    expect(await run(['--node-id', 'pulse-east-1'])).toBe('pulse-east-1');
    expect(await run([])).toBe('pulse-east-1');
  });

  it('bpm - a tempo out of range names the flag that lifts the limit', async () => {
    const proc = fx.track(ManagedProcess.node(pulseBin, ['pulse', '--nats', fx.server.url, '--bpm', '60']));
    expect(await proc.exited).toBe(2);
    expect(proc.stderr.trim()).toBe(
      'backbeat: --bpm: must be from 4 to 24, got 60: set --max-bpm to 60 or more to lift the limit',
    );
  });
});
