import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess, NatsServer, waitFor } from '@backbeat/testing';
import { NatsBus, statusStreamConfig } from '@backbeat/transport';
import { Pulse } from '@backbeat/pulse';

let server: NatsServer;
let bus: NatsBus;
let pulse: Pulse;
const example = (name: string) => fileURLToPath(new URL(`../dist-examples/${name}.js`, import.meta.url));

beforeAll(async () => {
  server = await NatsServer.start();
  bus = await NatsBus.connect({ servers: server.url });
  pulse = new Pulse({ bus, clusterId: 'examples', bpm: 240, maxBpm: 1000, elector: 'single' });
  await pulse.start();
  await bus.ensureStream(statusStreamConfig('examples')); // reverb owns the status stream; the SDK never creates it
});
afterAll(async () => {
  await pulse?.stop();
  await bus?.close();
  await server?.stop();
});

async function run(name: string, args: string[]): Promise<ManagedProcess> {
  const p = ManagedProcess.node(example(name), ['--nats', server.url, '--cluster', 'examples', ...args]);
  const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
  if (code !== 0) await p.stop();
  expect(code, p.stderr).toBe(0);
  return p;
}

// Side by side: each example is a process of its own that mostly waits for beats (and one
// waits 5 s for its hint), all following the one pulse.
describe.concurrent('sdk examples - each runs with one command', () => {
  it('simple-agent - follows beats and reports a claim per beat', async () => {
    const p = await run('simple-agent', ['--beats', '4']);
    expect(p.stdout.match(/^beat \d+ \(leader\) tempo 240 BPM/gm)?.length).toBeGreaterThanOrEqual(4);
    expect(p.stdout).toMatch(/done: 4 beats, 4 claims/);
  });

  it('task-processor - a task within its budget finishes, an overrun is aborted', async () => {
    const p = await run('task-processor', []);
    expect(p.stdout).toMatch(/task quick: finished in \d+ ms \(budget 2 beats\)/);
    expect(p.stdout).toMatch(/task slow: beat budget of 1 beats exceeded/);
  });

  it('examples - a mistyped --cluster prints one hint naming the subject after 5 s', async () => {
    const p = ManagedProcess.node(example('simple-agent'), [
      '--nats',
      server.url,
      '--cluster',
      'exmaples',
      '--beats',
      '1',
    ]);
    try {
      await waitFor(
        () => /no BeatFrame in 5 s from cluster 'exmaples': listening on 'backbeat\.exmaples\.beat'/.test(p.stderr),
        { timeoutMs: 12_000, message: 'the hint' },
      );
      expect(p.stderr.match(/no BeatFrame/g)).toHaveLength(1);
    } finally {
      await p.stop();
    }
  });

  it('service-monitor - prints health every beat', async () => {
    const p = await run('service-monitor', ['--beats', '3']);
    expect(p.stdout.match(/^health connected=true beat=\d+ degraded=false tempo=240/gm)?.length).toBe(3);
    expect(JSON.parse(p.stdout.trim().split('\n').at(-1)!)).toMatchObject({ framesReceived: expect.any(Number) });
  });
});
