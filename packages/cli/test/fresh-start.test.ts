/**
 * A fresh server, then two pulses and two reverbs spawned at the same instant (as an
 * orchestrator starts a deployment): the first frame is on the wire within the lease TTL + 1 s,
 * each reverb answers /ready within 3 s, every bar that closes after that gets its report within
 * one beat, and no service waited out a JetStream reply that never came (docs/spec.md §12 Known
 * pitfalls). Runs in `npm test` on the pinned server and, in the 2.9 subset, on Debian's 2.9.10.
 * The 3-node cluster case is the first row of `npm run chaos`.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ManagedProcess, NatsServer, waitFor } from '@backbeat/testing';
import { decodeJson, NatsBus, subjects } from '@backbeat/transport';

const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));
const TTL = 2000;
const BPM = 120;
const BAR = 4;
const BEAT_MS = 60_000 / BPM;

let server: NatsServer;
let bus: NatsBus;
const procs: ManagedProcess[] = [];
beforeAll(async () => {
  server = await NatsServer.start();
  bus = await NatsBus.connect({ servers: server.url });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await bus?.close();
  await server?.stop();
});

describe('fresh start - two pulses and two reverbs at the same instant on a fresh server', () => {
  it('fresh start - first frame within TTL + 1 s, /ready within 3 s, a ' +
    'report per bar within a beat, no lost JetStream reply', async () => {
    const s = subjects('fresh');
    const frames: Array<{ beat: number; phase: string; downbeat: boolean; at: number }> = [];
    const reports: Array<{ fromBeat: number; at: number }> = [];
    bus.subscribe(s.beat, (m) => {
      const f = decodeJson(m.data) as { beat_index: number; phase: string; downbeat: boolean };
      frames.push({ beat: f.beat_index, phase: f.phase, downbeat: f.downbeat, at: Date.now() });
    });
    bus.subscribe(s.reverb, (m) =>
      reports.push({ fromBeat: (decodeJson(m.data) as { from_beat: number }).from_beat, at: Date.now() }),
    );
    const ports = [await freePort(), await freePort()];
    const common = ['--cluster', 'fresh', '--nats', server.url, '--log-level', 'info'];
    const env = { BACKBEAT_LOG_FORMAT: 'json' };
    const t0 = Date.now();
    for (const id of ['p1', 'p2']) {
      procs.push(
        ManagedProcess.node(
          bin,
          [
            'pulse',
            '--node-id',
            id,
            '--bpm',
            String(BPM),
            '--max-bpm',
            '240',
            '--bar',
            String(BAR),
            '--lease-ttl',
            String(TTL),
            '--admin-port',
            '0',
            ...common,
          ],
          { env },
        ),
      );
    }
    ports.forEach((port, i) =>
      procs.push(
        ManagedProcess.node(
          bin,
          ['reverb', '--node-id', `r${i + 1}`, '--http-port', String(port), '--signatures', 'off', ...common],
          { env },
        ),
      ),
    );
    const readyAt: number[] = [];
    await Promise.all([
      waitFor(() => frames.length > 0, { timeoutMs: 20_000, intervalMs: 10, message: 'the first frame' }),
      ...ports.map((port) =>
        waitFor(
          () =>
            fetch(`http://127.0.0.1:${port}/ready`).then(
              (r) => r.status === 200,
              () => false,
            ),
          { timeoutMs: 20_000, intervalMs: 25, message: `reverb on ${port} ready` },
        ).then(() => readyAt.push(Date.now() - t0)),
      ),
    ]);
    const firstFrameMs = frames[0]!.at - t0;
    process.stdout.write(
      `fresh start on nats-server ${bus.serverVersion ?? '?'}: first frame ${firstFrameMs} ms, ` +
        `/ready ${readyAt.join(' and ')} ms\n`,
    );
    expect(firstFrameMs).toBeLessThanOrEqual(TTL + 1000);
    expect(Math.max(...readyAt)).toBeLessThanOrEqual(3000);
    const ready = t0 + Math.max(...readyAt);
    const from = frames.at(-1)!.beat;
    await waitFor(() => frames.some((f) => f.beat >= from + 3 * BAR + 1), {
      timeoutMs: 20_000,
      message: 'three more bars',
    });
    const closing = frames.filter((f) => f.downbeat && f.phase === 'plan' && f.at > ready && f.beat >= BAR).slice(0, 3);
    expect(closing.length).toBe(3);
    for (const d of closing) {
      await waitFor(() => reports.find((r) => r.fromBeat === d.beat - BAR) ?? null, {
        timeoutMs: 5000,
        message: `the report of the bar before beat ${d.beat}`,
      });
      const r = reports.find((x) => x.fromBeat === d.beat - BAR)!;
      expect(r.at - d.at, `report of beat ${d.beat - BAR}`).toBeLessThanOrEqual(BEAT_MS);
    }
    const lostReplies = procs.flatMap((p) => (p.stdout + p.stderr).split('\n').filter((l) => /within 5000 ms/.test(l)));
    expect(lostReplies).toEqual([]);
  }, 60_000);
});
