import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError, TicketflowError } from '@ticketflow/core';
import type { HealthReport } from './health';

/** Options of {@link startOpsServer}. */
export interface OpsServerOptions {
  /** The TCP port; 0 picks a free one (see {@link OpsServer.port}). */
  readonly port: number;
  /** The address to listen on. Default `'127.0.0.1'` (this machine only; a container sets `'0.0.0.0'`). */
  readonly host?: string;
  /** The health report `/healthz` answers with. */
  readonly health: () => HealthReport;
  /** The Prometheus text `/metrics` answers with. */
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

/** The running operations server. */
export interface OpsServer {
  /** The port it listens on (the actual one when 0 was asked). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, contentType: string, body: string, head: boolean) {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(head ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Serves the processor's operations endpoints over plain HTTP:
 *
 * - `GET /healthz`: the {@link HealthReport} as JSON, status 200 when healthy, 503 otherwise;
 * - `GET /metrics`: every metric in the Prometheus text format;
 * - anything else: 404 (405 for a method other than GET or HEAD).
 *
 * Resolves once the server listens; rejects with a one-line error when the address cannot be used.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? '127.0.0.1';
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    const head = request.method === 'HEAD';
    if (request.method !== 'GET' && !head) {
      response.setHeader('allow', 'GET, HEAD');
      send(response, 405, JSON_TYPE, '{"error":"method not allowed"}\n', head);
      return;
    }
    if (path === '/healthz') {
      const report = options.health();
      send(response, report.healthy ? 200 : 503, JSON_TYPE, `${JSON.stringify(report)}\n`, head);
    } else if (path === '/metrics') {
      const { contentType, body } = await options.metrics();
      send(response, 200, contentType, body, head);
    } else {
      send(response, 404, JSON_TYPE, '{"error":"not found","endpoints":["/healthz","/metrics"]}\n', head);
    }
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        const message = error instanceof Error ? error.message : String(error);
        send(response, 500, JSON_TYPE, `${JSON.stringify({ error: message })}\n`, false);
      } else response.destroy();
    });
  });
  // A scrape must never keep the process alive once the pipeline is done.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${host}:${options.port}`;
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
          ? new InvalidOptionError(
              `--http-port ${options.port}: cannot listen on ${where} (${error.code === 'EADDRINUSE' ? 'address in use' : error.code === 'EACCES' ? 'permission denied' : 'address not available'})`,
            )
          : new TicketflowError('INTERNAL', `cannot listen on ${where}: ${error.message}`),
      );
    };
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
