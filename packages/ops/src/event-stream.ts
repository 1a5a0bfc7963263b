import type { IncomingMessage, ServerResponse } from 'node:http';

/** Default bound of one client's unsent bytes: 1 MiB. */
export const DEFAULT_CLIENT_QUEUE_BYTES = 1024 * 1024;

/** Options of {@link createEventStream}. @internal */
export interface EventStreamOptions {
  /**
   * A client whose unsent bytes would pass this bound is disconnected (its `EventSource` reconnects
   * and gets the history again). Default {@link DEFAULT_CLIENT_QUEUE_BYTES}. The first event is always
   * accepted, whatever its size.
   */
  readonly maxQueueBytes?: number;
  /** A comment line is sent this often, in ms, so that proxies keep idle streams open. Default 15000. */
  readonly heartbeatMs?: number;
  /** The event every client receives first, with its name and data. */
  readonly first: () => { readonly name: string; readonly data: unknown };
}

/** Server-sent events to any number of clients, never waiting for them. @internal */
export interface EventStream {
  /** Clients connected now. */
  readonly clients: number;
  /** Sends one event to every client; a client whose queue is full is disconnected instead. */
  send(name: string, data: unknown): void;
  /** Answers a request with the event stream: `text/event-stream`, the first event, then live ones. */
  attach(request: IncomingMessage, response: ServerResponse): void;
  /** Ends every client's stream and stops the heartbeat. */
  close(): void;
}

/** One SSE message: `event: <name>\ndata: <one-line JSON>\n\n`. */
export function formatEvent(name: string, data: unknown): Buffer {
  // JSON.stringify escapes line breaks inside strings, so the data is one line.
  return Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** @internal */
export function createEventStream(options: EventStreamOptions): EventStream {
  const maxQueueBytes = options.maxQueueBytes ?? DEFAULT_CLIENT_QUEUE_BYTES;
  const clients = new Set<ServerResponse>();
  let heartbeat: NodeJS.Timeout | undefined;

  const drop = (response: ServerResponse) => {
    clients.delete(response);
    response.destroy();
  };
  /** Writes to one client unless that would pass its bound: then the client is dropped. */
  const write = (response: ServerResponse, chunk: Buffer) => {
    if (response.destroyed || response.writableEnded) {
      clients.delete(response);
      return;
    }
    const queued = response.writableLength;
    if (queued > 0 && queued + chunk.length > maxQueueBytes) drop(response);
    else response.write(chunk);
  };

  return {
    get clients() {
      return clients.size;
    },
    send(name, data) {
      if (clients.size === 0) return;
      const chunk = formatEvent(name, data);
      for (const response of [...clients]) write(response, chunk);
    },
    attach(request, response) {
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      if (request.method === 'HEAD') {
        response.end();
        return;
      }
      const { name, data } = options.first();
      response.write(formatEvent(name, data));
      clients.add(response);
      response.on('close', () => clients.delete(response));
      if (heartbeat === undefined) {
        heartbeat = setInterval(() => {
          const ping = Buffer.from(': ping\n\n');
          for (const r of [...clients]) write(r, ping);
        }, options.heartbeatMs ?? 15_000);
        heartbeat.unref();
      }
    },
    close() {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      heartbeat = undefined;
      for (const response of clients) response.end();
      clients.clear();
    },
  };
}
