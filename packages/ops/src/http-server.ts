import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeValue, InvalidOptionError, TicketflowError } from '@ticketflow/core';
import { dashboardAssets, readAsset, type StaticAsset } from './assets';
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
  /**
   * Answers `GET /events` (server-sent events); without it, `/events` is not served. The handler owns
   * the response from then on.
   */
  readonly events?: (request: IncomingMessage, response: ServerResponse) => void;
  /**
   * Serves the dashboard: `/` (and `/index.html`), `/dashboard.js`, `/dashboard.css` from this
   * package's `dashboard/` folder, `/vendor/uPlot.iife.min.js` and `/vendor/uPlot.min.css` from the
   * installed `uplot` package. Default false (then `/` answers 404).
   */
  readonly dashboard?: boolean;
  /**
   * How the port is named in the error when it cannot be used, such as the command-line flag that set
   * it (`'--http-port'`). Default `'port'`.
   */
  readonly portSetting?: string;
}

/** The running operations server. */
export interface OpsServer {
  /** The port it listens on (the actual one when 0 was asked). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** Stops listening and closes open connections (event streams included). Idempotent. */
  close(): Promise<void>;
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  head: boolean,
) {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(head ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Serves a pipeline's operations endpoints over plain HTTP:
 *
 * - `GET /healthz`: the {@link HealthReport} as JSON, status 200 when healthy, 503 otherwise;
 * - `GET /metrics`: every metric in the Prometheus text format;
 * - `GET /events`: server-sent events, with `options.events`;
 * - `GET /`, `/dashboard.js`, `/dashboard.css`, `/vendor/uPlot.iife.min.js`, `/vendor/uPlot.min.css`:
 *   the dashboard, with `options.dashboard`;
 * - anything else: 404 (405 for a method other than GET or HEAD).
 *
 * Every answer carries `cache-control: no-store`.
 *
 * @param options - where to listen, and what the endpoints answer with.
 * @returns the server, once it listens.
 * @throws `InvalidOptionError` (one line, naming `options.portSetting`) when the address is in use,
 *   not allowed or not available; a `TicketflowError` `INTERNAL` for any other listen error.
 *
 * @example
 * ```ts
 * const health = createHealth({ sourceName: 'file:tickets.jsonl', windowMs: 30_000 });
 * const metrics = createPipelineMetrics({ processMetrics: false });
 * const server = await startOpsServer({
 *   port: 0,
 *   health: () => health.report(),
 *   metrics: () => metrics.render(),
 * });
 * const response = await fetch(`http://127.0.0.1:${server.port}/healthz`);
 * response.status;
 * // 503
 * await server.close();
 * ```
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? '127.0.0.1';
  const assets: ReadonlyMap<string, StaticAsset> = options.dashboard ? dashboardAssets() : new Map();
  const endpoints = [
    ...(options.dashboard ? ['/'] : []),
    '/healthz',
    '/metrics',
    ...(options.events ? ['/events'] : []),
  ];
  const notFound = `${JSON.stringify({ error: 'not found', endpoints })}\n`;
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
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
    } else if (path === '/events' && options.events) {
      options.events(request, response);
    } else {
      const asset = assets.get(path);
      const body = asset ? await readAsset(asset) : undefined;
      if (asset && body) send(response, 200, asset.contentType, body, head);
      else send(response, 404, JSON_TYPE, notFound, head);
    }
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        const message = describeValue(error instanceof Error ? error.message : error);
        send(response, 500, JSON_TYPE, `${JSON.stringify({ error: message })}\n`, false);
      } else response.destroy();
    });
  });
  // A scrape must never keep the process alive once the pipeline is done.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${host}:${options.port}`;
      const setting = options.portSetting ?? 'port';
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
          ? new InvalidOptionError(
              `${setting} ${options.port}: cannot listen on ${where} (${error.code === 'EADDRINUSE' ? 'address in use' : error.code === 'EACCES' ? 'permission denied' : 'address not available'})`,
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
