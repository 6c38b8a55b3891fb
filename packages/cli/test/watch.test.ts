import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';
import { useNatsFixture } from '@backbeat/testing/vitest';
import { decodeJson, NatsBus, subjects } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';
import { runInProcess } from './in-process.js';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const nats = useNatsFixture();

async function kvPulse(cluster: string, nodeId: string): Promise<{ pulse: Pulse; stop: () => Promise<void> }> {
  const bus = await NatsBus.connect({ servers: nats.url });
  const pulse = new Pulse({ bus, clusterId: cluster, nodeId, bpm: 240, maxBpm: 1000, barLength: 4, leaseTtlMs: 1500 });
  await pulse.start();
  return {
    pulse,
    stop: async () => {
      await pulse.stop();
      await bus.close();
    },
  };
}

// Each test has a cluster of its own; all of them wait (for leases, slots, 5 s of silence),
// so they run side by side.
describe.concurrent('backbeat watch and agent - leader changes and timing', () => {
  it('watch - prints the leader, then the change when another node takes over', async ({ expect }) => {
    const a = await kvPulse('wlead', 'node-a');
    const w = ManagedProcess.node(bin, ['watch', '--cluster', 'wlead', '--nats', nats.url]);
    let b: Awaited<ReturnType<typeof kvPulse>> | undefined;
    try {
      await waitFor(() => /^-- leader node-a, term \d+$/m.test(w.stdout), {
        timeoutMs: 8000,
        message: 'the first leader',
      });
      const termA = Number(/^-- leader node-a, term (\d+)$/m.exec(w.stdout)![1]);
      await a.stop(); // releases the lease
      b = await kvPulse('wlead', 'node-b');
      await waitFor(() => /^-- leader node-b, term \d+ \(was node-a, term \d+\)$/m.test(w.stdout), {
        timeoutMs: 8000,
        message: 'the change of leader',
      }).catch((err) => {
        console.log(
          w.stdout.split('\n').filter((l) => l.startsWith('--')),
          w.stderr,
        );
        throw err;
      });
      const m = /^-- leader node-b, term (\d+) \(was node-a, term (\d+)\)$/m.exec(w.stdout)!;
      expect(Number(m[2])).toBe(termA);
      expect(Number(m[1])).toBeGreaterThan(termA);
      await waitFor(
        () =>
          w.stdout
            .split('\n')
            .slice(-3)
            .some((l) => / leader /.test(l) && l.startsWith('beat')),
        { timeoutMs: 5000, message: 'beats from node-b' },
      );
    } finally {
      await w.stop();
      await b?.stop();
      await a.stop().catch(() => {});
    }
  });

  it('watch --json --timing grid - one line per slot from the grid, never before its slot, in order', async ({
    expect,
  }) => {
    const p = await kvPulse('wgrid', 'node-g');
    const w = ManagedProcess.node(bin, [
      'watch',
      '--cluster',
      'wgrid',
      '--nats',
      nats.url,
      '--json',
      '--timing',
      'grid',
    ]);
    try {
      await waitFor(() => w.stdout.split('\n').filter(Boolean).length >= 6, { timeoutMs: 8000, message: 'six lines' });
      const lines = w.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      for (const l of lines) {
        expect(Object.keys(l)).toEqual(
          expect.arrayContaining(['beat_index', 'phase', 'source', 'scheduled_at', 'lateness_ms']),
        );
        // A slot fires from the grid at its instant; if the process was busy then and the
        // leader's frame came first, the frame fires it: either way once, never early.
        expect(['grid', 'leader']).toContain(l.source);
        if (l.source === 'grid') expect(l.lateness_ms).toBeGreaterThanOrEqual(0);
      }
      expect(lines.some((l) => l.source === 'grid')).toBe(true);
      const slots = lines.map((l) => l.beat_index * 3 + ['plan', 'execute', 'review'].indexOf(l.phase));
      expect(slots).toEqual(slots.map((_, i) => slots[0]! + i));
      expect(w.stderr).toMatch(/-- leader node-g, term \d+/); // with --json, leader lines go to stderr
    } finally {
      await w.stop();
      await p.stop();
    }
  });
});

// The hints wait 5 s of silence each: side by side, these take as long as the slowest one
// instead of their sum.
describe.concurrent('backbeat watch and agent - hints and usage', () => {
  it('watch - a mistyped --cluster prints one hint naming the subject after 5 s', async ({ expect }) => {
    const p = await kvPulse('wreal', 'node-r');
    const w = ManagedProcess.node(bin, ['watch', '--cluster', 'wrael', '--nats', nats.url]);
    try {
      await waitFor(
        () => /no BeatFrame in 5 s from cluster 'wrael': listening on 'backbeat\.wrael\.beat'/.test(w.stderr),
        { timeoutMs: 20_000, message: 'the hint' },
      );
      expect(w.stderr.match(/no BeatFrame/g)).toHaveLength(1);
      expect(w.stdout).toBe('');
    } finally {
      await w.stop();
      await p.stop();
    }
  });

  it('agent - a mistyped --cluster logs one hint naming the subject after 5 s', async ({ expect }) => {
    const p = await kvPulse('areal', 'node-ar');
    const a = ManagedProcess.node(bin, ['agent', '--cluster', 'arael', '--count', '3', '--nats', nats.url], {
      env: { BACKBEAT_LOG_FORMAT: 'json' },
    });
    try {
      await waitFor(
        () =>
          /no BeatFrame in 5 s from cluster 'arael': listening on 'backbeat\.arael\.beat'/.test(a.stdout + a.stderr),
        { timeoutMs: 20_000, message: 'the hint' },
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; output: ${a.stdout.slice(-2000)} ${a.stderr.slice(-2000)}`);
      });
      // one line for the process, not one per agent
      expect((a.stdout + a.stderr).match(/no BeatFrame/g)).toHaveLength(1);
    } finally {
      await a.stop();
      await p.stop();
    }
  });

  it(
    'agent - two simulators without --id-prefix never share an agent ' +
      'id; --id-prefix names them agent:<prefix>-1..N',
    async ({ expect }) => {
      const p = await kvPulse('aids', 'node-ids');
      const bus = await NatsBus.connect({ servers: nats.url });
      const ids = new Set<string>();
      bus.subscribe(subjects('aids').status, (m) => {
        try {
          ids.add((decodeJson(m.data) as { agent_id: string }).agent_id);
        } catch {
          /* not a claim */
        }
      });
      const procs = [[], [], ['--id-prefix', 'rack-a.2']].map((extra) =>
        ManagedProcess.node(bin, ['agent', '--cluster', 'aids', '--count', '3', '--nats', nats.url, ...extra], {
          env: { BACKBEAT_LOG_FORMAT: 'json' },
        }),
      );
      try {
        await waitFor(() => ids.size >= 9, { timeoutMs: 20_000, message: 'claims of nine agents' }).catch((err) => {
          throw new Error(`${(err as Error).message}; seen: ${[...ids].join(', ')}`);
        });
        const named = [...ids].filter((id) => id.startsWith('agent:rack-a.2-')).sort();
        expect(named).toEqual(['agent:rack-a.2-1', 'agent:rack-a.2-2', 'agent:rack-a.2-3']);
        const simPrefixes = new Set(
          [...ids].filter((id) => !named.includes(id)).map((id) => /^agent:(sim-[0-9a-f]{6})-[1-3]$/.exec(id)?.[1]),
        );
        expect(simPrefixes.size).toBe(2); // two processes, two prefixes, six distinct ids
        expect(simPrefixes.has(undefined)).toBe(false);
        expect(ids.size).toBe(9);
        // the log names them
        for (const [k, prefix] of [...simPrefixes].entries())
          expect(procs[0]!.stdout + procs[1]!.stdout, String(k)).toContain(`agent:${prefix}-1..3`);
      } finally {
        await Promise.all(procs.map((a) => a.stop()));
        await bus.close();
        await p.stop();
      }
    },
  );

  it('agent - a bad --id-prefix is one line naming the flag and the rule, exit 2 (usage)', async ({ expect }) => {
    for (const bad of ['a:b', 'x'.repeat(101), 'sp ace']) {
      const { code, err } = await runInProcess(['agent', '--cluster', 'x', '--nats', nats.url, '--id-prefix', bad]);
      expect(code, err).toBe(2);
      expect(err.trim()).toBe(`backbeat: --id-prefix: must be 1 to 100 letters, digits, '.', '_' or '-', got '${bad}'`);
    }
  });

  it('agent and watch - a bad --timing is one line naming the flag, exit 2 (usage)', async ({ expect }) => {
    // In-process (cli.test shows a flag error end to end in a process): the flag is checked
    // before any connection.
    for (const cmd of ['agent', 'watch']) {
      const { code, err } = await runInProcess([cmd, '--cluster', 'x', '--nats', nats.url, '--timing', 'fast']);
      expect(code, err).toBe(2);
      expect(err.trim()).toBe("backbeat: --timing: must be 'grid' or 'frames', got 'fast'");
    }
  });
});
