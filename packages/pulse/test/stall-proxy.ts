import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly toServer: Buffer[];
  readonly toClient: Buffer[];
}

/**
 * A loopback TCP proxy that can stall: while stalled it reads but holds every byte in both
 * directions (a connection whose packets stop getting through); heal() lets them go. The
 * held bytes belong to their connection, as bytes in a TCP send buffer do: when either side
 * closes or resets it, they are discarded with it.
 */
export class StallProxy {
  #server: Server | undefined;
  #pairs = new Set<Pair>();
  #stalled = false;
  port = 0;

  /** Listens on a free loopback port, forwarding to 127.0.0.1:targetPort. */
  static async start(targetPort: number): Promise<StallProxy> {
    const p = new StallProxy();
    p.#server = createServer((client) => p.#accept(client, targetPort));
    await new Promise<void>((resolve) => p.#server!.listen(0, '127.0.0.1', resolve));
    p.port = (p.#server.address() as { port: number }).port;
    return p;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Bytes held now, both directions, all connections. */
  get heldBytes(): number {
    let n = 0;
    for (const p of this.#pairs) for (const b of [...p.toServer, ...p.toClient]) n += b.length;
    return n;
  }

  stall(): void {
    this.#stalled = true;
  }

  heal(): void {
    this.#stalled = false;
    for (const p of this.#pairs) {
      for (const b of p.toServer.splice(0)) p.upstream.write(b);
      for (const b of p.toClient.splice(0)) p.client.write(b);
    }
  }

  async stop(): Promise<void> {
    for (const p of this.#pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #accept(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, toServer: [], toClient: [] };
    this.#pairs.add(pair);
    client.on('data', (d: Buffer) => (this.#stalled ? pair.toServer.push(d) : upstream.write(d)));
    upstream.on('data', (d: Buffer) => (this.#stalled ? pair.toClient.push(d) : client.write(d)));
    const end = () => {
      this.#pairs.delete(pair);
      pair.toServer.length = 0;
      pair.toClient.length = 0;
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('close', end);
      s.on('error', end);
    }
  }
}
