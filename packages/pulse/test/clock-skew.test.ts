import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { collectFrames, gridProblems } from './helpers.js';
import { getJson, libfaketime, usePulseProcesses, type PulseProcess } from './process.js';

// One pulse node runs under libfaketime (Debian `faketime`) with its clock 500 ms off; the
// other nodes and this observer keep the machine's clock. 300 BPM and a 1000 ms
// lease: neither the tempo nor the TTL is the point here.
const fx = usePulseProcesses({ bpm: 300 });
const TTL = ['--lease-ttl', '1000'];
const start = (cluster: string, nodeId: string, env: Record<string, string> = {}) =>
  fx.start(cluster, nodeId, TTL, env);
const CASES = [
  ['ahead', '+0.5', 1],
  ['behind', '-0.5', -1],
] as const;

// Both cases' first two nodes start before the tests, a case's skewed node before its honest
// one (without the check the skewed node would take the lease); a process needs ~1.3 s of CPU
// to start, so the two cases' nodes start side by side.
const nodes = new Map<string, { skewed: PulseProcess; honest: PulseProcess }>();
beforeAll(async () => {
  const lib = libfaketime();
  expect(lib, 'libfaketime (Debian package faketime, see scripts/ensure-system-deps.mjs)').toBeDefined();
  const skewed = await Promise.all(
    CASES.map(([name, offset]) => start(`skew-${name}`, 'skewed', { LD_PRELOAD: lib!, FAKETIME: offset })),
  );
  const honest = await Promise.all(CASES.map(([name]) => start(`skew-${name}`, 'honest')));
  CASES.forEach(([name], i) => nodes.set(name, { skewed: skewed[i]!, honest: honest[i]! }));
}, 60_000);

describe('pulse - a leader clock is checked', () => {
  it.each(CASES)(
    'clock - a node 500 ms %s never takes the lease and says so in /drift, /health, a ' +
      'metric and one log line; nothing off the grid reaches the wire',
    async (name, _offset, sign) => {
      const cluster = `skew-${name}`;
      const seen = collectFrames(fx.observer, cluster);
      const { skewed, honest } = nodes.get(name)!;
      const drift = await getJson<Record<string, unknown>>(`${skewed.admin}/drift`);
      expect(drift).toMatchObject({ clock_offset_state: 'beyond', max_clock_offset_ms: 20 });
      expect(Math.sign(drift.clock_offset_ms as number)).toBe(sign);
      expect(Math.abs(drift.clock_offset_ms as number)).toBeGreaterThan(300);
      await waitFor(async () => (await getJson(`${honest.admin}/leader`)).is_leader === true, {
        timeoutMs: 5000,
        message: 'the honest node to lead',
      });
      const term1 = (await getJson<{ term: number }>(`${honest.admin}/leader`)).term;
      await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000, message: 'frames' });

      // The honest leader dies: the skewed node sees the lease expire and still does not take it,
      // though it is alone with the empty lease until the second honest node has started.
      await waitFor(async () => (await getJson(`${skewed.admin}/leader`)).leader === 'honest', {
        message: 'the skewed node to follow the honest one',
      });
      honest.proc.kill('SIGKILL');
      await waitFor(async () => (await getJson(`${skewed.admin}/leader`)).leader === null, {
        timeoutMs: 3000,
        message: 'the skewed node to see the lease expire',
      });
      const second = await start(cluster, 'second');
      await waitFor(async () => (await getJson(`${second.admin}/leader`)).is_leader === true, {
        timeoutMs: 6000,
        message: 'the second honest node to lead',
      });
      const term2 = (await getJson<{ term: number }>(`${second.admin}/leader`)).term;
      await waitFor(() => seen.frames.filter((f) => f.term === term2).length >= 3, { timeoutMs: 3000 });

      expect(new Set(seen.frames.map((f) => f.term))).toEqual(new Set([term1, term2]));
      // Never early, and nowhere near the skewed node's 500 ms, on this (true) clock (the bound
      // leaves room for delivery on a loaded host).
      const offGrid = seen.frames
        .map((f) => ({ f, lateness: f.at - Date.parse(f.frame.scheduled_at!) }))
        .filter(({ lateness }) => lateness < -1 || lateness >= 250)
        .map(
          ({ f, lateness }) => `term ${f.term} beat ${f.frame.beat_index} ${f.frame.phase}: ${lateness.toFixed(1)} ms`,
        );
      expect(offGrid).toEqual([]);
      expect(gridProblems(seen.frames)).toEqual([]);
      const leader = await getJson(`${skewed.admin}/leader`);
      expect(leader).toMatchObject({ is_leader: false, role: 'clock_offset', leader: 'second' });
      const health = await getJson(`${skewed.admin}/health`);
      expect(health).toMatchObject({
        is_leader: false,
        role: 'clock_offset',
        clock_offset_state: 'beyond',
        published: 0,
      });
      const metrics = await (await fetch(`${skewed.admin}/metrics`)).text();
      const m = /backbeat_clock_offset_seconds\{against="nats"\} (\S+)/.exec(metrics);
      expect(Math.abs(Number(m?.[1]))).toBeGreaterThan(0.3);
      expect(metrics).toMatch(/backbeat_is_leader 0/);
      expect(skewed.proc.stdout.split('\n').filter((l) => l.includes('max-clock-offset'))).toHaveLength(1);
      seen.stop();
      // Done with: they would only take CPU from the next case (the file's afterAll stops them too, also on a failure).
      await Promise.all([skewed.proc.stop(), second.proc.stop()]);
    },
  );
});
