import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { OperationsLogger } from '../src/operations';

/** An HTTP response, read to its end. */
export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A plain GET over a fresh connection. */
export function httpGet(port: number, path: string, method = 'GET'): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (text: string) => {
        body += text;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The samples of a Prometheus text exposition, by `name{labels}` as written (`name` alone without labels). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) out.set(match[1] as string, Number(match[2]));
  }
  return out;
}

/** A logger writing `LEVEL  message` lines, as the application's text logger does. */
export function lineLogger(): { logger: OperationsLogger; text: () => string } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level.padEnd(5)} ${message}\n`);
  return { logger: { info: at('INFO'), warn: at('WARN'), error: at('ERROR') }, text: () => lines.join('') };
}

/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
  /** The `data:` line as sent. */
  readonly raw: string;
}

/** A client of `/events` that reads everything, parsing the events as they arrive. */
export interface SseClient {
  readonly events: SseEvent[];
  /** Resolves once `count` events have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  readonly headers: string;
  close(): void;
}

/** Connects to `/events` over a raw socket, reading the response as it comes. */
export function sseClient(port: number): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const events: SseEvent[] = [];
    let buffer = '';
    let headers: string | undefined;
    const waiters: Array<() => void> = [];
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    socket.on('data', (text: string) => {
      buffer += text;
      if (headers === undefined) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        headers = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        resolve(client);
      }
      // Chunked transfer encoding: drop the chunk-size lines, keep the payload.
      for (;;) {
        const sep = buffer.indexOf('\n\n');
        if (sep < 0) break;
        const block = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        const lines = block.split('\r\n').join('\n').split('\n');
        const name = lines.find((l) => l.startsWith('event: '));
        const data = lines.find((l) => l.startsWith('data: '));
        if (name && data) {
          const raw = data.slice(6);
          events.push({ event: name.slice(7), data: JSON.parse(raw), raw });
        }
      }
      for (const w of waiters.splice(0)) w();
    });
    const client: SseClient = {
      events,
      get headers() {
        return headers ?? '';
      },
      waitFor(count, timeoutMs = 5000) {
        return new Promise((done, fail) => {
          const timer = setTimeout(
            () => fail(new Error(`${events.length} of ${count} events after ${timeoutMs} ms`)),
            timeoutMs,
          );
          const check = () => {
            if (events.length >= count) {
              clearTimeout(timer);
              done(events.slice(0, count));
            } else waiters.push(check);
          };
          check();
        });
      },
      close: () => socket.destroy(),
    };
  });
}
