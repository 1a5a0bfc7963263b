import {
  type DurableStep,
  describeValue,
  firstLine,
  type PipelineEvent,
  type RetryOptions,
  type Sink,
  type SourceStatus,
} from '@ticketflow/core';
import type { Observable } from 'rxjs';
import { createDashboardFeed, type DashboardOptions, type DashboardStatus } from './dashboard';
import { createEventStream, type EventStream } from './event-stream';
import { createHealth, type Health, type HealthReport } from './health';
import { type OpsServer, startOpsServer } from './http-server';
import { createPipelineMetrics, type PipelineMetrics } from './metrics-registry';

/** The logger {@link serveOperations} writes to: pino, console, or anything with these methods. */
export interface OperationsLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link serveOperations}. */
export interface ServeOperationsOptions {
  /** The pipeline's events (`Pipeline.events$`), followed until they complete or {@link Operations.close}. */
  readonly events$: Observable<PipelineEvent>;
  /**
   * Serves HTTP on this port (0 picks a free one, see {@link OpsServer.port}); without it, no server
   * is started, while health and metrics are still kept.
   */
  readonly port?: number | undefined;
  /** The address the HTTP server listens on. Default `'127.0.0.1'` (this machine only). */
  readonly host?: string | undefined;
  /**
   * How the port is named in the error when it cannot be used (the command-line flag that set it, such
   * as `'--http-port'`). Default `'port'`.
   */
  readonly portSetting?: string | undefined;
  /** The source's name (`Source.name`), for `/healthz` and the dashboard. */
  readonly sourceName: string;
  /** The pipeline's window span, in ms: the stall limit of `/healthz` is counted in windows. */
  readonly windowMs: number;
  /**
   * How long a failing durable step of a batch is retried, in ms (see {@link Operations.retryOptions}).
   * Default 0: not retried.
   */
  readonly retryFor?: number | undefined;
  /** Where the listening line, retries and recoveries are logged. Default: nowhere. */
  readonly logger?: OperationsLogger | undefined;
  /** The dashboard's title and the pipeline's own figures. */
  readonly dashboard?: DashboardOptions | undefined;
  /** Batches kept for dashboards that connect later (bounded memory). Default 300. */
  readonly historySize?: number | undefined;
  /**
   * A dashboard client whose unsent bytes would pass this bound is disconnected (its browser reconnects
   * and gets the history again): a slow client never slows the pipeline. Default 1 MiB.
   */
  readonly clientQueueBytes?: number | undefined;
  /**
   * The pipeline's stage (see `createPipeline`'s `stage`): a partial stage's `/metrics` adds its
   * transactions committed and aborted and the partial aggregates produced; a merge stage's, the
   * partial aggregates merged. Default `'final'`.
   */
  readonly stage?: 'final' | 'partial' | 'merge' | undefined;
}

/** Health, metrics, the HTTP server and the dashboard's event stream of a running pipeline. */
export interface Operations {
  /** The health state `/healthz` reports. */
  readonly health: Health;
  /** The Prometheus metrics `/metrics` reports. */
  readonly metrics: PipelineMetrics;
  /** The HTTP server, when `port` was set. */
  readonly server: OpsServer | undefined;
  /** Dashboard clients connected to `/events` now. */
  readonly eventClients: number;
  /**
   * Wraps the pipeline's sink to count failed writes (`ticketflow_sink_write_failures_total`), report
   * the output failing on `/healthz`, and see it succeed again. Pass the wrapped sink to the pipeline.
   */
  watchSink<M>(sink: Sink<M>): Sink<M>;
  /**
   * The pipeline's retry policy (`PipelineOptions.retry`): a failing durable step of a batch is retried
   * for `retryFor` ms.
   */
  retryOptions(): RetryOptions;
  /**
   * Records a failed storage request that the storage client retries itself (an S3 request): counted as
   * `ticketflow_storage_retries_total{step="s3-request"}`, reported by `/healthz` until a write succeeds.
   */
  outputRetrying(reason: string): void;
  /** The pipeline failed: `/healthz` reports it (503) from now on. */
  failed(error: unknown): void;
  /** Stops following the events, ends the dashboards' streams and closes the HTTP server. Idempotent. */
  close(): Promise<void>;
}

/** What a step did, for the log line of its recovery. */
const DONE: Record<DurableStep, (batchId: number) => string> = {
  begin: (id) => `batch ${id} recorded in the checkpoint`,
  'dead-letters': (id) => `dead letters of batch ${id} written`,
  write: (id) => `batch ${id} written`,
  commit: (id) => `batch ${id} committed`,
};

const reasonOf = (error: unknown) => firstLine(describeValue(error instanceof Error ? error.message : error));

const silent: OperationsLogger = { info() {}, warn() {}, error() {} };

/** Status events are sent at most this often while nothing but counts change, in ms. */
const STATUS_INTERVAL_MS = 1000;

/**
 * Follows a pipeline's events for its operations: health (`/healthz`), Prometheus metrics
 * (`/metrics`) and, with `port`, an HTTP server that serves them with the live dashboard (`/`) and its
 * server-sent events (`/events`), logging `http listening on :PORT`.
 *
 * - `/healthz`: 200 while healthy, 503 otherwise (see {@link createHealth} for the rules);
 * - `/metrics`: the metrics of {@link createPipelineMetrics}, process metrics included with `port`;
 * - `/events`: first a `history` event (the last `historySize` batches, the last 200 final windows,
 *   totals, health, lag), then `batch` (one per committed batch), `window` (one per final event-time
 *   window) and `status` (when the health status or the source's connection changes, otherwise at
 *   most once a second while something changes). Each is `event: <name>\ndata: <JSON>\n\n`, and holds
 *   only counts, metric values, times, lane names and output paths: never a record. Emitting never
 *   waits for a client; a client whose unsent bytes pass `clientQueueBytes` is disconnected;
 * - `/`: the dashboard page, and uPlot from the installed `uplot` package.
 *
 * Retries of durable steps are logged at WARN, counted in `ticketflow_storage_retries_total{step}`
 * and reported by `/healthz` until they succeed; recoveries are logged at INFO.
 *
 * {@link Operations.retryOptions} is the pipeline's retry policy: a failing durable step of a batch
 * (checkpoint, dead letters, batch file, commit) is retried with exponential backoff (0.5 s doubling to
 * 30 s) for `retryFor` ms while `/healthz` answers 503; the batch is then written with the same id and
 * content, so nothing is lost or counted twice. Without `retryFor`, or once it has passed, or once the
 * pipeline is stopping, the failure ends the run.
 *
 * @param options - the events to follow, where to listen, the dashboard's settings.
 * @returns the operations, once the server listens (at once without `port`).
 * @throws `InvalidOptionError` when the port cannot be used (see {@link startOpsServer}).
 *
 * @example
 * ```ts
 * const ops = await serveOperations({
 *   events$: pipeline.events$,
 *   port: 8080,
 *   sourceName: 'file:tickets.jsonl',
 *   windowMs: 30_000,
 *   logger,
 *   dashboard: {
 *     title: 'orders',
 *     view: (m) => ({ values: { orders: (m as { total: number }).total } }),
 *   },
 * });
 * try {
 *   await pipeline.run();
 * } catch (error) {
 *   ops.failed(error);
 *   throw error;
 * } finally {
 *   await ops.close();
 * }
 * ```
 */
export async function serveOperations(options: ServeOperationsOptions): Promise<Operations> {
  const logger = options.logger ?? silent;
  /** The source's latest status, from `source-status` events; empty for sources that report none. */
  let status: SourceStatus = {};
  const health = createHealth({
    sourceName: options.sourceName,
    windowMs: options.windowMs,
    connected: () => status.connected ?? null,
  });
  const serving = options.port !== undefined;
  const metrics = createPipelineMetrics({
    lag: () => (status.lag ?? []).map(({ lane, lag }) => ({ partition: partitionOf(lane), lag })),
    healthy: () => health.report().healthy,
    processMetrics: serving,
    ...(options.stage ? { stage: options.stage } : {}),
  });
  let viewFailed = false;
  const feed = createDashboardFeed({
    title: options.dashboard?.title ?? 'ticketflow',
    source: options.sourceName,
    historySize: Math.max(0, options.historySize ?? 300),
    view: options.dashboard?.view,
    onViewError: (error) => {
      if (viewFailed) return;
      viewFailed = true;
      logger.warn(`the dashboard's view of a batch's metrics failed: ${reasonOf(error)}`);
    },
  });
  const lag = () => (status.lag ?? []).map(({ lane, lag }) => ({ lane, lag }));
  const statusKey = (report: HealthReport) => `${report.status}|${String(status.connected ?? null)}`;
  let lastStatusKey: string | undefined;
  let lastStatusAt = 0;
  let statusTimer: NodeJS.Timeout | undefined;

  let stream: EventStream | undefined;
  const sendStatus = (report: HealthReport) => {
    if (statusTimer !== undefined) clearTimeout(statusTimer);
    statusTimer = undefined;
    lastStatusKey = statusKey(report);
    lastStatusAt = Date.now();
    const data: DashboardStatus = {
      health: report,
      totals: feed.totals(),
      lag: lag(),
      connected: status.connected ?? null,
    };
    stream?.send('status', data);
  };
  /** Something changed: a status event now if the health or the connection did, else within a second. */
  const changed = () => {
    if (!stream || stream.clients === 0) return;
    const report = health.report();
    if (statusKey(report) !== lastStatusKey) sendStatus(report);
    else if (statusTimer === undefined) {
      const wait = Math.max(0, lastStatusAt + STATUS_INTERVAL_MS - Date.now());
      statusTimer = setTimeout(() => sendStatus(health.report()), wait);
      statusTimer.unref();
    }
  };
  let watcher: NodeJS.Timeout | undefined;

  let server: OpsServer | undefined;
  if (options.port !== undefined) {
    const events = createEventStream({
      ...(options.clientQueueBytes !== undefined ? { maxQueueBytes: options.clientQueueBytes } : {}),
      first: () => {
        const report = health.report();
        lastStatusKey = statusKey(report);
        return { name: 'history', data: feed.history(report, lag()) };
      },
    });
    stream = events;
    server = await startOpsServer({
      port: options.port,
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.portSetting !== undefined ? { portSetting: options.portSetting } : {}),
      health: () => health.report(),
      metrics: () => metrics.render(),
      events: (request, response) => events.attach(request, response),
      dashboard: true,
    });
    // Time alone changes the health (a stalled batch): checked once a second while dashboards watch.
    watcher = setInterval(() => {
      if (events.clients > 0 && statusKey(health.report()) !== lastStatusKey) sendStatus(health.report());
    }, STATUS_INTERVAL_MS);
    watcher.unref();
    logger.info(`http listening on :${server.port}`, {
      host: server.host,
      endpoints: '/ /healthz /metrics /events',
    });
  }

  const subscription = options.events$.subscribe((event) => {
    switch (event.type) {
      case 'started':
        health.running();
        break;
      case 'records-read':
        health.recordsRead(event.records);
        break;
      case 'source-status':
        status = event.status;
        break;
      case 'batch-committed': {
        const at = new Date();
        health.batchCommitted(event.batch.batchId);
        metrics.batchCommitted(event.batch, at);
        const view = feed.batch(event.batch, at);
        stream?.send('batch', view);
        break;
      }
      case 'window-finalized':
        stream?.send('window', feed.window(event.batchId, event.window));
        break;
      case 'retrying': {
        const { retry } = event;
        metrics.storageRetried(retry.step);
        health.outputFailed(reasonOf(retry.error));
        logger.warn(
          `${retry.error.message} (attempt ${retry.attempt}); retrying in ${Math.round(retry.delayMs)} ms`,
        );
        break;
      }
      case 'recovered':
        health.outputSucceeded();
        logger.info(
          `${DONE[event.recovery.step](event.recovery.batchId)} after ${event.recovery.attempts} attempts`,
        );
        break;
      case 'stopping':
        health.stopping();
        break;
    }
    if (event.type !== 'window-finalized') changed();
  });

  let closing: Promise<void> | undefined;
  return {
    health,
    metrics,
    server,
    get eventClients() {
      return stream?.clients ?? 0;
    },
    watchSink<M>(sink: Sink<M>): Sink<M> {
      return {
        describe: (batchId) => sink.describe(batchId),
        ...(sink.describeWindow ? { describeWindow: sink.describeWindow.bind(sink) } : {}),
        ...(sink.close ? { close: () => (sink.close as () => Promise<void>)() } : {}),
        async write(batch) {
          try {
            await sink.write(batch);
          } catch (error) {
            metrics.sinkWriteFailed();
            health.outputFailed(reasonOf(error));
            changed();
            throw error;
          }
          health.outputSucceeded();
        },
      };
    },
    retryOptions() {
      return { for: options.retryFor ?? 0 };
    },
    outputRetrying(reason) {
      metrics.storageRetried('s3-request');
      health.outputFailed(reason);
      changed();
    },
    failed(error) {
      // A partial stage's run fails with its transaction open: it is aborted.
      metrics.transactionAborted();
      health.failed(reasonOf(error));
      changed();
    },
    close() {
      closing ??= (async () => {
        subscription.unsubscribe();
        if (statusTimer !== undefined) clearTimeout(statusTimer);
        if (watcher !== undefined) clearInterval(watcher);
        stream?.close();
        await server?.close();
      })();
      return closing;
    },
  };
}

/** The partition of a Kafka lane (`topic/3` → 3). */
function partitionOf(lane: string): number {
  return Number(lane.slice(lane.lastIndexOf('/') + 1));
}
