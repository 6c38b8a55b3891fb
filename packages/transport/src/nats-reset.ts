/** Dropping a NATS connection's socket at once, so nats.js reconnects (a test's network fault). */
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Resets the connection's TCP socket. nc.reconnect() closes gracefully: it first waits for the
 * socket to take an empty write, which a stalled socket never does, and a plain close still lets
 * the kernel send what it holds. A TCP reset discards the socket's buffers; its 'close' event
 * then drives nats.js's ordinary reconnect, which also discards the client's own outbound buffer.
 */
export function resetNatsSocket(nc: NatsConnection): void {
  type Sock = { destroy(): void; resetAndDestroy?: () => void };
  const socket = (nc as unknown as { protocol?: { transport?: { socket?: Sock } } }).protocol?.transport?.socket;
  if (socket) {
    if (socket.resetAndDestroy) socket.resetAndDestroy();
    else socket.destroy();
  } else void nc.reconnect().catch(() => {});
}
