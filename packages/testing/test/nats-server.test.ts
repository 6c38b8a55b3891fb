import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { canConnect, ManagedProcess, NatsCluster, NatsServer, waitFor } from '@backbeat/testing';

/** True while `pid` runs; a zombie (killed, not yet reaped by PID 1) counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('harness - nats-server', () => {
  it('harness - starts on a free loopback port with JetStream, stops and removes its directory', async () => {
    const server = await NatsServer.start();
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(await canConnect(server.port)).toBe(true);
    const pid = server.pid!;
    const nc = await connect({ servers: server.url });
    const info = await (await jetstreamManager(nc)).getAccountInfo();
    expect(info.streams).toBe(0); // JetStream answers
    await nc.close();
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
    expect(server.running).toBe(false);
    await waitFor(() => !alive(pid), { message: 'the server process to be gone' });
    expect(await canConnect(server.port)).toBe(false);
    await server.stop(); // idempotent
  });

  it('harness - restart keeps the port and the JetStream data', async () => {
    await using server = await NatsServer.start();
    const port = server.port;
    const pid = server.pid;
    let nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await jetstream(nc).publish('keep.one', new TextEncoder().encode('survives'));
    await nc.close();

    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    nc = await connect({ servers: server.url });
    const msg = await (await jetstreamManager(nc)).streams.getMessage('KEEP', { seq: 1 });
    expect(msg && new TextDecoder().decode(msg.data)).toBe('survives');
    await nc.close();
  });

  it('harness - a server that cannot start fails with the tail of its log', async () => {
    await expect(NatsServer.start({ config: 'this is { not a valid config' })).rejects.toThrow(
      /nats-server did not start[\s\S]*nats-server log/,
    );
  });

  it('harness - a missing binary fails in one line naming it', async () => {
    await expect(NatsServer.start({ binary: '/nonexistent/nats-server' })).rejects.toThrow(
      /^nats-server '\/nonexistent\/nats-server' does not run/,
    );
  });

  it('harness - the exit hook kills a server the test forgot, and removes its directory', async () => {
    const script = fileURLToPath(new URL('./fixtures/orphan.mjs', import.meta.url));
    for (const mode of ['exit', 'throw']) {
      const child = ManagedProcess.node(script, [mode]);
      const m = await child.waitForOutput(/\{"pid":(\d+),"dir":"([^"]+)","port":(\d+)\}/);
      await child.exited;
      const pid = Number(m[1]);
      await waitFor(() => !alive(pid), { message: `nats-server ${pid} to be killed (${mode})` });
      expect(existsSync(m[2]!)).toBe(false);
    }
  });
});

describe('harness - nats cluster', () => {
  it('harness - three routed nodes elect a JetStream leader and keep a replicated stream when one stops', async () => {
    await using cluster = await NatsCluster.start(3);
    expect(cluster.urls).toHaveLength(3);
    const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
      const js = jetstream(nc);
      // The create reply can reach us before the stream leader's interest in r3.> has crossed the routes to the
      // node we are connected to; until it has, a publish meets "no responders". Wait for that, boundedly.
      await waitFor(async () => (await js.publish('r3.a', new Uint8Array([1]), { timeout: 1000 })).seq === 1, {
        timeoutMs: 5_000,
        message: 'the first publish to the new R3 stream to be acknowledged',
      });
      await cluster.servers[2]!.halt();
      await waitFor(async () => (await js.publish('r3.b', new Uint8Array([2]), { timeout: 1000 })).seq >= 2, {
        timeoutMs: 10_000,
        message: 'a publish acknowledged by the two remaining nodes',
      });
    } finally {
      await nc.close();
    }
  });
});

describe('harness - helpers', () => {
  it('harness - waitFor returns the value, or names what it waited for and the last error', async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : 0))).toBe(3);
    await expect(waitFor(() => false, { timeoutMs: 50, message: 'never' })).rejects.toThrow(
      /after 50 ms waiting for never$/,
    );
    await expect(
      waitFor(
        async () => {
          throw new Error('boom');
        },
        { timeoutMs: 50, message: 'x' },
      ),
    ).rejects.toThrow(/waiting for x \(last error: boom\)/);
  });

  it('harness - ManagedProcess captures output, waits for a pattern and reports how it ended', async () => {
    const p = ManagedProcess.node('-e', [
      'console.log("ready 42"); console.error("warn"); setTimeout(() => {}, 60000)',
    ]);
    expect((await p.waitForOutput(/ready (\d+)/))[1]).toBe('42');
    await waitFor(() => p.stderr.includes('warn'));
    expect(p.running).toBe(true);
    expect(await p.stop()).toBe('SIGTERM');
    expect(p.running).toBe(false);

    const quick = ManagedProcess.node('-e', ['process.exit(3)']);
    expect(await quick.exited).toBe(3);
    await expect(quick.waitForOutput(/never/)).rejects.toThrow(/exited \(3\) before printing/);

    const missing = ManagedProcess.spawn('/nonexistent/program', []);
    expect(await missing.exited).toBe(-1);
  });
});
