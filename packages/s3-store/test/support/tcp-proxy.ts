import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

/**
 * What the proxy does with connections:
 * - `forward`: passes bytes both ways to the target;
 * - `refuse`: stops listening, so connecting fails with `ECONNREFUSED` (a server that is down);
 * - `reset`: accepts, then resets the connection (`ECONNRESET`);
 * - `hang`: accepts and never answers (a request timeout);
 * - `throttle`: answers every connection with S3's `503 SlowDown`.
 */
export type ProxyMode = 'forward' | 'refuse' | 'reset' | 'hang' | 'throttle';

/** A loopback TCP proxy in front of a server, to take that server away without losing its state. */
export interface TcpProxy {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** Connections accepted and not forwarded (reset, hung or throttled) so far. */
  readonly turnedAway: number;
  /** Switches the mode; every open connection is dropped. */
  setMode(mode: ProxyMode): Promise<void>;
  close(): Promise<void>;
}

const SLOW_DOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
const SLOW_DOWN = [
  'HTTP/1.1 503 Slow Down',
  'Content-Type: application/xml',
  `Content-Length: ${Buffer.byteLength(SLOW_DOWN_BODY)}`,
  'Connection: close',
  '',
  SLOW_DOWN_BODY,
].join('\r\n');

/** Starts a proxy on a free loopback port, forwarding to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  let turnedAway = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer((client) => {
    track(client);
    if (mode !== 'forward') turnedAway += 1;
    switch (mode) {
      case 'reset':
        client.resetAndDestroy();
        return;
      case 'hang':
        client.resume();
        return;
      case 'throttle':
        client.once('data', () => client.end(SLOW_DOWN));
        return;
      default: {
        const upstream = connect(targetPort, '127.0.0.1');
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
      }
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const port = address.port;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get turnedAway() {
      return turnedAway;
    },
    async setMode(next) {
      const wasListening = server.listening;
      mode = next;
      dropAll();
      if (next === 'refuse' && wasListening) {
        const closed = once(server, 'close');
        server.close();
        await closed;
      } else if (next !== 'refuse' && !wasListening) {
        server.listen(port, '127.0.0.1');
        await once(server, 'listening');
      }
    },
    async close() {
      dropAll();
      if (server.listening) {
        const closed = once(server, 'close');
        server.close();
        await closed;
      }
    },
  };
}
