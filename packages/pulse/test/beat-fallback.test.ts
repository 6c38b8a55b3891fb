/**
 * The direct fallback of server-checked fencing (docs/spec.md §7 Election, terms and fencing,
 * "Direct fallback") on a real 3-node nats-server cluster: while the beat stream elects a leader,
 * a leader whose lease a quorum write holds publishes its slots straight to the beat subject, so
 * a kill -9 of the node leading the beat stream costs a gap within TTL + 1 s instead of the
 * stream's Raft election; a leader riding the KV-outage grace (its lease stream without a quorum)
 * never falls back, so nothing reaches the wire past its last quorum write + TTL − margin.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster, waitFor } from '@backbeat/testing';
import { NatsBus, subjects } from '@backbeat/transport';
import { silentLogger, type Logger } from '@backbeat/core';
import { Pulse } from '@backbeat/pulse';
import { beatStreamNames } from '@backbeat/pulse/internal';
import { collectFrames, gridProblems, type SeenFrame } from './helpers.js';

const now = () => performance.timeOrigin + performance.now();
const TTL = 2000;

let cluster: NatsCluster;
const buses: NatsBus[] = [];
const pulses: Pulse[] = [];

async function connect(url: string): Promise<NatsBus> {
  const b = await NatsBus.connect({ servers: url });
  buses.push(b);
  return b;
}

beforeAll(async () => {
  cluster = await NatsCluster.start(3, { name: 'fallback' });
}, 60_000);
/** Nodes a test killed, started again before the next test (also when it failed). */
const killed = new Set<number>();
afterEach(async () => {
  await Promise.all(pulses.splice(0).map((p) => p.stop()));
  for (const i of killed) await cluster.restart(i);
  killed.clear();
}, 60_000);
afterAll(async () => {
  await Promise.all(pulses.map((p) => p.stop()));
  await Promise.all(buses.map((b) => b.close()));
  await cluster?.stop();
});

/** Log lines of one pulse, by level. */
function recordingLogger(): { logger: Logger; warn: string[]; info: string[]; lines: string[] } {
  const warn: string[] = [];
  const info: string[] = [];
  const lines: string[] = [];
  const at = () => new Date().toISOString().slice(17, 23);
  const logger: Logger = {
    ...silentLogger,
    warn: (o, msg) => void (warn.push(msg ?? ''), lines.push(`${at()} warn ${msg} ${JSON.stringify(o)}`)),
    info: (o, msg) => void (info.push(msg ?? ''), lines.push(`${at()} info ${msg} ${JSON.stringify(o)}`)),
    child: () => logger,
  };
  return { logger, warn, info, lines };
}

/** A pulse on node 0 only (its emitter thread too), so a kill of node 1 or 2 never takes its own connection. */
async function startPulse(c: string, logger: Logger): Promise<Pulse> {
  const servers = [cluster.urls[0]!];
  const p = new Pulse({
    bus: await connect(cluster.urls[0]!),
    clusterId: c,
    nodeId: `${c}-p`,
    bpm: 300,
    maxBpm: 300,
    leaseTtlMs: TTL,
    emitterNats: { servers },
    logger,
  });
  pulses.push(p);
  await p.start();
  return p;
}

/** Moves `stream`'s leader to node `to` (a step-down with a preferred copy) and waits until it is there. */
async function leadFrom(admin: NatsBus, stream: string, to: number): Promise<void> {
  const name = cluster.names[to]!;
  await waitFor(
    async () => {
      if ((await cluster.streamCluster(stream))?.leader === name) return true;
      const body = new TextEncoder().encode(JSON.stringify({ placement: { preferred: name } }));
      await admin.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, body, { timeout: 2000 }).catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
      return (await cluster.streamCluster(stream))?.leader === name;
    },
    { timeoutMs: 20_000, intervalMs: 200, message: `${stream} led from ${name}` },
  );
}

/** The longest time between two frames that arrived after `from`. */
function longestGap(frames: readonly SeenFrame[], from: number): number {
  let gap = 0;
  for (let i = 1; i < frames.length; i++)
    if (frames[i]!.at > from) gap = Math.max(gap, frames[i]!.at - frames[i - 1]!.at);
  return gap;
}

const metric = async (p: Pulse, name: string): Promise<number> => {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(await p.metrics.registry.metrics());
  return m ? Number(m[1]) : 0;
};

describe('pulse - the direct fallback on a 3-node cluster', () => {
  it('fallback - kill -9 of the node leading the beat stream (not the lease stream, not the pulse): frames go out ' +
    'directly, the gap stays within TTL + 1 s; back through the stream after its election', async () => {
    const c = 'fb-kill';
    const { stream } = beatStreamNames(c);
    const leaseStream = `KV_backbeat_${c}_lease`;
    const admin = await connect(cluster.urls[0]!);
    const log = recordingLogger();
    const pulse = await startPulse(c, log.logger);
    const observers = await Promise.all([1, 2].map((i) => connect(cluster.urls[i]!)));
    const seen = [...observers, admin].map((o) => collectFrames(o, c));
    const viaStream: boolean[] = [];
    const raw = admin.subscribe(subjects(c).beat, (m) => viaStream.push(m.headers['Nats-Stream'] === stream));
    await waitFor(() => seen.every((s) => s.frames.length >= 10), { timeoutMs: 15_000, message: 'frames' });
    // The lease stream led from the pulse's node, the beat stream from another: the victim.
    await leadFrom(admin, leaseStream, 0);
    const victim = 1;
    await leadFrom(admin, stream, victim);
    await cluster.waitForStreamCurrent(stream, 3);
    const alive = seen.filter((_, i) => i !== victim - 1);
    // Moving the stream's leader above may have caused a short fallback already: count from here.
    const entering = () => log.warn.filter((m) => m.startsWith('the beat stream has no leader; the lease is held'));
    const leaving = () => log.info.filter((m) => m.startsWith('left the direct fallback'));
    const [enteredBefore, leftBefore] = [entering().length, leaving().length];
    const killedAt = now();
    killed.add(victim);
    await cluster.kill(victim);
    const viaStreamBefore = viaStream.length;
    try {
      // Each fallback ends once the stream has a leader again (a second one may follow while the
      // leader moves the stream's new leader off the lease stream's node).
      const episodes = () => entering().length - enteredBefore;
      await waitFor(() => episodes() > 0 && leaving().length - leftBefore === episodes(), {
        timeoutMs: 20_000,
        message: 'the fallback to begin and to end once the beat stream has a leader again',
      });
      await waitFor(() => viaStream.slice(viaStreamBefore).filter(Boolean).length >= 10, {
        timeoutMs: 10_000,
        message: 'frames through the stream again',
      });
    } catch (err) {
      console.log(log.lines.join('\n')); // what the leader said, for the failure
      throw err;
    } finally {
      raw.unsubscribe();
    }
    const gaps = alive.map((s) => longestGap(s.frames, killedAt));
    const direct = await metric(pulse, 'backbeat_beat_fallback_frames_total');
    // The figure for docs/operations.md, beside server fencing without the fallback (5.2 to 7.8 s).
    const ms = gaps.map((g) => g.toFixed(0)).join(', ');
    const what = `kill -9 of the beat stream leader (node ${victim}) with the direct fallback`;
    console.log(`${what}: gap ${ms} ms, ${direct} frames direct`);
    for (const s of alive) {
      expect(s.invalid).toEqual([]);
      expect(gridProblems(s.frames)).toEqual([]); // no slot twice, none backwards
      expect(new Set(s.frames.map((f) => f.term)).size).toBe(1);
      s.stop();
    }
    expect(Math.max(...gaps)).toBeLessThanOrEqual(TTL + 1000);
    expect(direct).toBeGreaterThan(0);
    expect(viaStream.slice(viaStreamBefore)).toContain(false); // frames sent directly reached the wire
    expect(leaving().length - leftBefore).toBe(entering().length - enteredBefore); // one line at each end
    expect(pulse.leaderStatus().role).toBe('leader');
  }, 90_000);

  it("fallback - kill -9 of the node leading the beat stream and carrying the pulse's connection: the pulse " +
    'reconnects and publishes directly while the stream elects; the gap stays within TTL + 1 s', async () => {
    const c = 'fb-own';
    const { stream } = beatStreamNames(c);
    const leaseStream = `KV_backbeat_${c}_lease`;
    const log = recordingLogger();
    // Given every node's URL, to reconnect to another (as a deployed pulse is); one connection (no emitter thread).
    const bus = await NatsBus.connect({ servers: [...cluster.urls], reconnectTimeWaitMs: 100 });
    buses.push(bus);
    const pulse = new Pulse({
      bus,
      clusterId: c,
      nodeId: `${c}-p`,
      bpm: 300,
      maxBpm: 300,
      leaseTtlMs: TTL,
      logger: log.logger,
    });
    pulses.push(pulse);
    await pulse.start();
    const own = cluster.names.indexOf(bus.nc.info!.server_name);
    const others = [0, 1, 2].filter((i) => i !== own);
    const admin = await connect(cluster.urls[others[0]!]!);
    const watched = await Promise.all(others.map(async (i) => collectFrames(await connect(cluster.urls[i]!), c)));
    await waitFor(() => watched.every((s) => s.frames.length >= 10), { timeoutMs: 15_000, message: 'frames' });
    // The placement the leader keeps allows this: the lease stream off its node, the beat stream on it.
    await leadFrom(admin, leaseStream, others[0]!);
    await leadFrom(admin, stream, own);
    await cluster.waitForStreamCurrent(stream, 3);
    const killedAt = now();
    killed.add(own);
    await cluster.kill(own);
    await waitFor(() => watched.every((s) => s.frames.some((f) => f.at > killedAt + 4000)), {
      timeoutMs: 30_000,
      message: 'frames 4 s after the kill',
    }).catch((err: Error) => {
      console.log(log.lines.join('\n'));
      throw err;
    });
    const gaps = watched.map((s) => longestGap(s.frames, killedAt));
    const direct = await metric(pulse, 'backbeat_beat_fallback_frames_total');
    const ms = gaps.map((g) => g.toFixed(0)).join(', ');
    console.log(`kill -9 of the pulse's own node, leading the beat stream: gap ${ms} ms, ${direct} frames direct`);
    for (const s of watched) {
      expect(s.invalid).toEqual([]);
      expect(gridProblems(s.frames)).toEqual([]);
      s.stop();
    }
    expect(Math.max(...gaps)).toBeLessThanOrEqual(TTL + 1000);
    expect(direct).toBeGreaterThan(0); // the reconnected leader fell back: the stream had no leader
    expect(new Set(watched.flatMap((s) => s.frames.map((f) => f.term))).size).toBe(1); // no new term
    expect(pulse.leaderStatus().role).toBe('leader');
  }, 90_000);

  it('fallback - a leader on the KV-outage grace (its lease stream without a quorum) does not fall ' +
    'back: nothing reaches the wire past its last quorum write + TTL - margin', async () => {
    const c = 'fb-grace';
    const { stream } = beatStreamNames(c);
    const leaseStream = `KV_backbeat_${c}_lease`;
    const admin = await connect(cluster.urls[0]!);
    const log = recordingLogger();
    const pulse = await startPulse(c, log.logger);
    const seen = collectFrames(admin, c);
    await waitFor(() => seen.frames.length >= 10, { timeoutMs: 15_000, message: 'frames' });
    // Neither stream led from the pulse's node: with nodes 1 and 2 gone nobody on node 0 answers either.
    await leadFrom(admin, leaseStream, 1);
    await leadFrom(admin, stream, 2);
    await cluster.waitForStreamCurrent(stream, 3);
    await cluster.waitForStreamCurrent(leaseStream, 3);
    const killedAt = now();
    killed.add(1).add(2);
    await Promise.all([cluster.kill(1), cluster.kill(2)]);
    await new Promise((r) => setTimeout(r, TTL + 3000));
    const after = seen.frames.filter((f) => f.at > killedAt + TTL);
    const direct = await metric(pulse, 'backbeat_beat_fallback_frames_total');
    const last = seen.frames.at(-1)!.at - killedAt;
    const what = 'a leader on the KV-outage grace';
    console.log(`${what}: last frame ${last.toFixed(0)} ms after the kill, ${direct} frames direct`);
    seen.stop();
    expect(log.warn).toContain(
      'the lease KV has no stream leader: nobody can take the lease; publishing on the KV-outage grace',
    );
    expect(pulse.leaderStatus().is_leader).toBe(true); // still leading, on the grace
    expect(after).toEqual([]);
    expect(gridProblems(seen.frames)).toEqual([]);
    const skipped = /backbeat_frames_skipped_total\{reason="not_stored"\} (\d+)/.exec(
      await pulse.metrics.registry.metrics(),
    );
    expect(Number(skipped?.[1] ?? 0)).toBeGreaterThan(10); // it kept trying the stream, which stored nothing
  }, 90_000);
});
