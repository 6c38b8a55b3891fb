import { describe, expect, it } from 'vitest';
import { waitFor } from '@backbeat/testing';
import { collectFrames, gridProblems } from './helpers.js';
import { getJson, usePulseProcesses, type PulseProcess } from './process.js';

const fx = usePulseProcesses({ observerReconnectMs: 100 });
const now = () => performance.timeOrigin + performance.now();

async function pair(cluster: string, extra: string[] = []): Promise<{ leader: PulseProcess; follower: PulseProcess }> {
  const a = await fx.start(cluster, `${cluster}-a`, extra);
  await waitFor(async () => (await getJson(`${a.admin}/leader`)).is_leader === true, { timeoutMs: 5000, message: 'a to lead' });
  const b = await fx.start(cluster, `${cluster}-b`, extra);
  await waitFor(async () => (await getJson(`${b.admin}/leader`)).leader === a.nodeId, { message: 'b to follow a' });
  return { leader: a, follower: b };
}

describe('pulse - failover between processes on nats-server', () => {
  it('failover - kill -9 of the leader: the follower leads within TTL + one phase, grid intact', async () => {
    const seen = collectFrames(fx.observer, 'kill9');
    const { leader, follower } = await pair('kill9');
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000, message: 'frames' });
    const oldTerm = seen.frames.at(-1)!.term;
    const killedAt = now();
    leader.proc.kill('SIGKILL');
    await waitFor(() => seen.frames.some((f) => f.term > oldTerm), { timeoutMs: 6000, message: 'a frame from the new leader' });
    const gap = seen.frames.find((f) => f.term > oldTerm)!.at - killedAt;
    // Default TTL 2000 ms + one phase at 120 BPM (167 ms) + the follower's 250 ms retry.
    expect(gap).toBeLessThan(2000 + 167 + 250 + 100);
    expect((await getJson(`${follower.admin}/leader`)).is_leader).toBe(true);
    await waitFor(() => seen.frames.filter((f) => f.term > oldTerm).length >= 3);
    expect(gridProblems(seen.frames)).toEqual([]);
    const metrics = await (await fetch(`${follower.admin}/metrics`)).text();
    expect(metrics).toMatch(/backbeat_frames_skipped_total\{reason="failover"\} [1-9]/);
    expect(metrics).toMatch(/backbeat_leadership_changes_total [1-9]/);
    console.log(`failover after kill -9: first frame of the new term ${gap.toFixed(0)} ms after the kill`);
    seen.stop();
  });

  it('failover - a leader paused past its lease (SIGSTOP) wakes as a follower and sends nothing stale', async () => {
    const seen = collectFrames(fx.observer, 'sigstop');
    const { leader, follower } = await pair('sigstop', ['--lease-ttl', '1000']);
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 5000 });
    const oldTerm = seen.frames.at(-1)!.term;
    leader.proc.kill('SIGSTOP');
    await waitFor(async () => (await getJson(`${follower.admin}/leader`)).is_leader === true, { timeoutMs: 5000, message: 'the follower to take over' });
    await waitFor(() => seen.frames.some((f) => f.term > oldTerm), { timeoutMs: 3000 });
    const resumedAt = now();
    leader.proc.kill('SIGCONT');
    await waitFor(async () => (await getJson(`${leader.admin}/leader`)).is_leader === false, { timeoutMs: 3000, message: 'the old leader to answer as a follower' });
    await waitFor(() => seen.frames.filter((f) => f.at > resumedAt).length >= 6, { timeoutMs: 5000 });
    const staleAfterWake = seen.frames.filter((f) => f.at > resumedAt && f.term <= oldTerm);
    expect(staleAfterWake).toEqual([]);
    expect(gridProblems(seen.frames)).toEqual([]);
    seen.stop();
  });

  it('failover - SIGTERM releases the lease: exit within 2 s and the follower leads at once', async () => {
    const seen = collectFrames(fx.observer, 'sigterm');
    const { leader, follower } = await pair('sigterm');
    await waitFor(() => seen.frames.length >= 3, { timeoutMs: 5000 });
    const t = now();
    leader.proc.kill('SIGTERM');
    expect(await leader.proc.exited).toBe(0);
    expect(now() - t).toBeLessThan(2000);
    await waitFor(async () => (await getJson(`${follower.admin}/leader`)).is_leader === true, { timeoutMs: 1500, message: 'an immediate takeover' });
    expect(leader.proc.stdout).toMatch(/released the leader lease/);
    seen.stop();
  });

  it('failover - nats-server restarted under a running pulse: it reconnects and resumes on the grid', async () => {
    const seen = collectFrames(fx.observer, 'natsrestart');
    const p = await fx.start('natsrestart', 'solo');
    await waitFor(() => seen.frames.length >= 6, { timeoutMs: 6000 });
    await fx.server.restart();
    const restartedAt = now();
    await waitFor(() => seen.frames.filter((f) => f.at > restartedAt).length >= 6, { timeoutMs: 10_000, message: 'frames after the restart' });
    expect(gridProblems(seen.frames)).toEqual([]);
    for (const f of seen.frames.filter((x) => x.at > restartedAt)) {
      expect(f.at - Date.parse(f.frame.scheduled_at!)).toBeLessThan(100); // on the grid, nothing replayed late
    }
    expect((await getJson(`${p.admin}/ready`)).ready).toBe(true);
    seen.stop();
  });
});
