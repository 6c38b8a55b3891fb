import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess, NetCluster, PROBE_PORT, waitFor } from '@backbeat/testing';
import { listNetns } from '@backbeat/testing/internal';

const fixture = fileURLToPath(new URL('./fixtures/net-orphan.mjs', import.meta.url));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** In a host: sends a numbered UDP datagram to `peer` every 50 ms and prints each one it receives. */
const UDP_PEER = String.raw`
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m) => process.stdout.write('got ' + m + '\n'));
s.bind(5555, () => { let n = 0; setInterval(() => s.send(String(n++), 5555, process.argv[1]), 50); });
process.stdin.on('close', () => process.exit(0)); process.stdin.resume();
`;
const received = (p: ManagedProcess) => p.stdout.split('\n').filter((l) => l.startsWith('got ')).length;

describe('harness - NetCluster: hosts as network namespaces, faults that drop', () => {
  let net: NetCluster;
  beforeAll(async () => {
    net = await NetCluster.start({ hosts: 3 });
  }, 30_000);
  afterAll(async () => {
    await net?.stop();
  });

  it(
    'harness - every host has its own address and reaches every ' + 'other; a closed port is refused, not silent',
    async () => {
      expect(net.hosts.map((h) => h.address)).toEqual(['10.251.0.1', '10.251.0.2', '10.251.0.3']);
      expect(new Set(net.hosts.map((h) => h.netns)).size).toBe(3);
      for (const h of net.hosts) expect(listNetns()).toContain(h.netns);
      await net.waitConnected();
      expect(await net.probe(0, 2)).toBe('ok');
      expect(await net.probe(0, 2, 4999)).toBe('error ECONNREFUSED');
    },
  );

  it(
    'harness - isolate: the host hears nothing and nobody hears it (silence, not a ' +
      'refusal); the others carry on; heal restores every pair',
    async () => {
      await net.isolate(0);
      expect(net.faults).toEqual(['isolate h1']);
      expect(await net.probe(0, 1, PROBE_PORT, 500)).toBe('timeout');
      expect(await net.probe(2, 0, PROBE_PORT, 500)).toBe('timeout');
      expect(await net.probe(2, 0, 4999, 500)).toBe('timeout'); // a closed port is silent too: no RST gets through
      expect(await net.probe(1, 2)).toBe('ok');
      expect(await net.probe(0, 0)).toBe('ok'); // the host's own processes still talk to each other
      await net.heal();
      expect(net.faults).toEqual([]);
      expect(await net.probe(0, 1)).toBe('ok');
    },
  );

  it('harness - cut one pair: those two lose each other, both still reach the third', async () => {
    await net.cut(1, 2);
    expect(await net.probe(1, 2, PROBE_PORT, 500)).toBe('timeout');
    expect(await net.probe(2, 1, PROBE_PORT, 500)).toBe('timeout');
    expect(await net.probe(1, 0)).toBe('ok');
    expect(await net.probe(2, 0)).toBe('ok');
    await net.heal();
    expect(await net.probe(1, 2)).toBe('ok');
  });

  it(
    'harness - one-way cut: datagrams from h1 to h2 are dropped while h2 ' +
      'to h1 still arrive (processes inside the hosts)',
    async () => {
      const a = net.spawn(0, process.execPath, ['-e', UDP_PEER, net.hosts[1]!.address]);
      const b = net.spawn(1, process.execPath, ['-e', UDP_PEER, net.hosts[0]!.address]);
      try {
        await waitFor(() => received(a) >= 3 && received(b) >= 3, { message: 'datagrams both ways' });
        await net.cutOneWay(0, 1);
        await new Promise((r) => setTimeout(r, 100)); // datagrams already in flight land
        const [fromA, fromB] = [received(b), received(a)];
        await waitFor(() => received(a) >= fromB + 10, { message: 'h1 still receiving from h2' });
        expect(received(b)).toBe(fromA); // nothing from h1 got through
        await net.heal();
        await waitFor(() => received(b) > fromA + 3, { message: 'h2 receiving from h1 again' });
      } finally {
        await Promise.all([a.stop(1000), b.stop(1000)]);
      }
    },
  );

  it(
    'harness - cutPort: every TCP packet to or from that port on the host ' +
      'is dropped, its own local connections included',
    async () => {
      await net.cutPort(0, PROBE_PORT);
      expect(await net.probe(1, 0, PROBE_PORT, 500)).toBe('timeout'); // the answer leaves h1 from that port
      expect(await net.probe(0, 0, PROBE_PORT, 500)).toBe('timeout'); // h1 to its own address
      // other ports of h1 are untouched: the refusal gets back
      expect(await net.probe(0, 1, 4999)).toBe('error ECONNREFUSED');
      expect(await net.probe(1, 2)).toBe('ok');
      await net.heal();
      expect(await net.probe(1, 0)).toBe('ok');
    },
  );

  it('harness - bad host indexes and pairs are refused in one line', async () => {
    await expect(net.isolate(3)).rejects.toThrow('host index must be 0..2, got 3');
    await expect(net.cut(1, 1)).rejects.toThrow('cut needs two different hosts, got h2 twice');
    await expect(net.cutPort(0, 70_000)).rejects.toThrow('port must be 1..65535, got 70000');
    expect(() => net.natsUrl(-1)).toThrow('host index must be 0..2, got -1');
    await expect(NetCluster.start({ hosts: 0 })).rejects.toThrow('hosts must be an integer from 1 to 50, got 0');
    expect(net.faults).toEqual([]);
  });
});

describe('harness - NetCluster with a JetStream cluster, one nats-server per host', () => {
  it("harness - the isolated meta leader's peers elect another; after the heal every node agrees again", async () => {
    await using net = await NetCluster.start({ hosts: 3, nats: true });
    expect(net.natsUrls).toEqual(['nats://10.251.0.1:4222', 'nats://10.251.0.2:4222', 'nats://10.251.0.3:4222']);
    const leader = await net.nats!.waitForJetStream();
    const i = net.hosts.findIndex((h) => h.name === leader);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(await net.probe((i + 1) % 3, i, 4222)).toBe('ok');
    await net.isolate(i);
    const others = [0, 1, 2].filter((k) => k !== i);
    const next = await waitFor(
      async () => {
        const seen = await Promise.all(others.map((k) => net.metaLeader(k)));
        return seen[0] && seen[0] !== leader && seen[0] === seen[1] ? seen[0] : null;
      },
      { timeoutMs: 20_000, intervalMs: 200, message: 'a new meta leader on the majority side' },
    );
    expect(next).not.toBe(leader);
    expect(await net.probe(others[0]!, i, 4222, 500)).toBe('timeout');
    await net.heal();
    await net.nats!.waitForJetStream(30_000);
    await net.nats!.waitForRoutes(30_000);
  }, 90_000);
});

describe('harness - NetCluster cleans up and says what is missing', () => {
  it('harness - stop removes namespaces, links and the processes inside', async () => {
    const net = await NetCluster.start({ hosts: 2 });
    const sleeper = net.spawn(1, 'sleep', ['300']);
    await waitFor(() => sleeper.pid !== undefined && alive(sleeper.pid));
    const names = net.hosts.map((h) => h.netns);
    await net.stop();
    expect(listNetns().filter((n) => names.some((h) => n === h || n === h.replace(/-h\d+$/, '-sw')))).toEqual([]);
    expect(alive(sleeper.pid!)).toBe(false);
    await net.stop(); // idempotent
  }, 30_000);

  for (const how of ['exit', 'throw'] as const) {
    it(`harness - a process that ends (${how}) without stopping its ` +
      'network leaves no namespace and no process', async () => {
      const p = ManagedProcess.node(fixture, [how]);
      await p.exited;
      const made = JSON.parse(p.stdout.split('\n')[0]!) as { netns: string[]; pid: number };
      expect(made.netns).toHaveLength(2);
      expect(listNetns().filter((n) => made.netns.includes(n) || n === made.netns[0]!.replace(/-h1$/, '-sw'))).toEqual(
        [],
      );
      await waitFor(() => !alive(made.pid), { message: 'the process inside h1 gone' });
    }, 30_000);
  }

  it('harness - what a runner killed -9 left behind is swept by the next start', async () => {
    const p = ManagedProcess.node(fixture, ['hang']);
    try {
      await p.waitForOutput(/"netns"/, 20_000);
      const made = JSON.parse(p.stdout.split('\n')[0]!) as { netns: string[]; pid: number };
      p.kill('SIGKILL');
      await p.exited;
      expect(listNetns()).toEqual(expect.arrayContaining(made.netns)); // no hook ran
      await using net = await NetCluster.start({ hosts: 1 });
      expect(listNetns().filter((n) => made.netns.includes(n))).toEqual([]);
      expect(net.hosts).toHaveLength(1);
      await waitFor(() => !alive(made.pid), { message: 'the orphan inside h1 gone' });
    } finally {
      await p.stop(1000);
    }
  }, 30_000);

  it(
    'harness - a user who cannot make namespaces gets one line saying ' +
      'what is missing (the test fails, never skips)',
    () => {
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, fixture, 'exit'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('NetCluster needs root to make network namespaces (running as uid 65534)');
    },
  );
});
