import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '@backbeat/testing';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('harness - nats-server', () => {
  it('harness - starts on a free loopback port and stops cleanly', async () => {
    const server = await NatsServer.start();
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(await accepts(server.port)).toBe(true);
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
    await waitFor(async () => !(await accepts(server.port)), { message: 'the port to close' });
  });

  it('harness - restart keeps the port', async () => {
    await using server = await NatsServer.start();
    const port = server.port;
    const pid = server.pid;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect(await accepts(port)).toBe(true);
  });

  it('harness - waitFor reports what it waited for', async () => {
    await expect(waitFor(() => false, { timeoutMs: 50, message: 'never' })).rejects.toThrow(/waiting for never/);
  });
});
