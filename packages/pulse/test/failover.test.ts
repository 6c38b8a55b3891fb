import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { collectFrames, gridProblems } from './helpers.js';
import { getJson, usePulseProcesses, type PulseProcess } from './process.js';

// 300 BPM: the tempo is not the point here, and frames come 2.5 times as often as at 120.
const BPM = 300;
const PHASE_MS = 60_000 / BPM / 3;
const fx = usePulseProcesses({ observerReconnectMs: 100, bpm: BPM });
const now = () => performance.timeOrigin + performance.now();

interface Pair {
  readonly leader: PulseProcess;
  readonly follower: PulseProcess;
}

/** Two pulse processes of a cluster, started side by side: whichever takes the lease leads, the other follows it. */
async function pair(cluster: string, extra: string[] = []): Promise<Pair> {
  const both = await Promise.all([fx.start(cluster, `${cluster}-a`, extra), fx.start(cluster, `${cluster}-b`, extra)]);
  const leader = await waitFor(
    async () => {
      for (const p of both) if ((await getJson(`${p.admin}/leader`)).is_leader === true) return p;
      return undefined;
    },
    { timeoutMs: 5000, message: 'one of the pair to lead' },
  );
  const follower = both.find((p) => p !== leader)!;
  await waitFor(async () => (await getJson(`${follower.admin}/leader`)).leader === leader.nodeId, {
    message: 'the other to follow it',
  });
  return { leader, follower };
}

// Every test has a cluster and processes of its own, all started before the first test (the
// grid of a new cluster begins at the next whole second, so the later ones are running by the
// time their test comes) and stopped after the file. Two or three at a time: a process needs
// about 1.3 s of CPU to start, and seven at once on two busy cores took longer than the 15 s a
// start may take.
let kill9: Pair;
let sigstop: Pair;
let sigterm: Pair;
let solo: PulseProcess;
beforeAll(async () => {
  kill9 = await pair('kill9', ['--lease-ttl', '1000']);
  sigstop = await pair('sigstop', ['--lease-ttl', '1000']);
  [sigterm, solo] = await Promise.all([pair('sigterm'), fx.start('natsrestart', 'solo')]);
}, 60_000);

describe('pulse - failover between processes on nats-server', () => {
  it('failover - kill -9 of the leader: the follower leads within TTL + one phase, grid intact', async () => {
    const seen = collectFrames(fx.observer, 'kill9');
    const { leader, follower } = kill9;
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000, message: 'frames' });
    const oldTerm = seen.frames.at(-1)!.term;
    const killedAt = now();
    leader.proc.kill('SIGKILL');
    await waitFor(() => seen.frames.some((f) => f.term > oldTerm), {
      timeoutMs: 6000,
      message: 'a frame from the new leader',
    });
    const gap = seen.frames.find((f) => f.term > oldTerm)!.at - killedAt;
    // TTL 1000 ms + one phase + the follower's retry (min(250, TTL / 8) = 125 ms).
    expect(gap).toBeLessThan(1000 + PHASE_MS + 125 + 100);
    expect((await getJson(`${follower.admin}/leader`)).is_leader).toBe(true);
    await waitFor(() => seen.frames.filter((f) => f.term > oldTerm).length >= 3);
    expect(gridProblems(seen.frames)).toEqual([]);
    const metrics = await (await fetch(`${follower.admin}/metrics`)).text();
    expect(metrics).toMatch(/backbeat_frames_skipped_total\{reason="failover"\} [1-9]/);
    expect(metrics).toMatch(/backbeat_leadership_changes_total [1-9]/);
    console.log(`failover after kill -9: first frame of the new term ${gap.toFixed(0)} ms after the kill`);
    seen.stop();
    // done with: it would only take CPU from the next tests (the file's afterAll stops it too, also on a failure)
    await follower.proc.stop();
  });

  it('failover - a leader paused past its lease (SIGSTOP) wakes as a follower and sends nothing stale', async () => {
    const seen = collectFrames(fx.observer, 'sigstop');
    const { leader, follower } = sigstop;
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000 });
    const oldTerm = seen.frames.at(-1)!.term;
    leader.proc.kill('SIGSTOP');
    await waitFor(async () => (await getJson(`${follower.admin}/leader`)).is_leader === true, {
      timeoutMs: 5000,
      message: 'the follower to take over',
    });
    await waitFor(() => seen.frames.some((f) => f.term > oldTerm), { timeoutMs: 3000 });
    const resumedAt = now();
    leader.proc.kill('SIGCONT');
    await waitFor(async () => (await getJson(`${leader.admin}/leader`)).is_leader === false, {
      timeoutMs: 3000,
      message: 'the old leader to answer as a follower',
    });
    await waitFor(() => seen.frames.filter((f) => f.at > resumedAt).length >= 6, { timeoutMs: 5000 });
    const staleAfterWake = seen.frames.filter((f) => f.at > resumedAt && f.term <= oldTerm);
    expect(staleAfterWake).toEqual([]);
    expect(gridProblems(seen.frames)).toEqual([]);
    seen.stop();
    await Promise.all([leader.proc.stop(), follower.proc.stop()]);
  });

  it('failover - SIGTERM releases the lease: exit within 2 s and the follower leads at once', async () => {
    const seen = collectFrames(fx.observer, 'sigterm');
    const { leader, follower } = sigterm; // the default TTL (2000 ms): a takeover within 1500 ms is the release
    await waitFor(() => seen.frames.length >= 3, { timeoutMs: 5000 });
    const t = now();
    leader.proc.kill('SIGTERM');
    expect(await leader.proc.exited).toBe(0);
    expect(now() - t).toBeLessThan(2000);
    await waitFor(async () => (await getJson(`${follower.admin}/leader`)).is_leader === true, {
      timeoutMs: 1500,
      message: 'an immediate takeover',
    });
    expect(leader.proc.stdout).toMatch(/released the leader lease/);
    seen.stop();
    await follower.proc.stop();
  });

  it('failover - nats-server restarted under a running pulse: it reconnects and resumes on the grid', async () => {
    const seen = collectFrames(fx.observer, 'natsrestart');
    const p = solo;
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 6000 });
    await fx.server.restart();
    const restartedAt = now();
    await waitFor(() => seen.frames.filter((f) => f.at > restartedAt).length >= 6, {
      timeoutMs: 10_000,
      message: 'frames after the restart',
    });
    expect(gridProblems(seen.frames)).toEqual([]);
    for (const f of seen.frames.filter((x) => x.at > restartedAt)) {
      expect(f.at - Date.parse(f.frame.scheduled_at!)).toBeLessThan(100); // on the grid, nothing replayed late
    }
    expect((await getJson(`${p.admin}/ready`)).ready).toBe(true);
    seen.stop();
  });
});
