import {
  type DurableStep,
  firstLine,
  type PipelineEvent,
  type RetryOptions,
  type Sink,
  type SourceStatus,
} from '@ticketflow/core';
import type { Observable, Subscription } from 'rxjs';
import type { Logger } from '../logger';
import { createHealth, type Health } from './health';
import { type OpsServer, startOpsServer } from './http-server';
import { createPipelineMetrics, type PipelineMetrics } from './metrics-registry';

/** The operations settings of the processor (flags or environment). */
export interface OperationsSettings {
  /** The window span, in ms. */
  readonly window: number;
  /** Serves `/healthz` and `/metrics` on this port when set; 0 picks a free port. */
  readonly httpPort?: number | undefined;
  /** The address the HTTP server listens on. Default `'127.0.0.1'` (this machine only). */
  readonly httpHost?: string | undefined;
  /**
   * How long a failing durable step of a batch is retried, in ms, before the processor gives up and
   * exits 1: recording the batch in the checkpoint, writing its dead letters, writing its batch file,
   * committing it in the checkpoint (and the lease checks before each). Default: not retried (the
   * processor exits at the first failure; S3 requests are still retried by the AWS SDK, about 16 s).
   */
  readonly sinkRetryFor?: number | undefined;
}

/** What the operations layer observes. */
export interface OperationsParts {
  readonly logger: Logger;
  /** The source's name, for `/healthz`. */
  readonly sourceName: string;
}

/** Health, metrics and the HTTP server of a running processor. */
export interface Operations {
  /** The health state `/healthz` reports. */
  readonly health: Health;
  /** The Prometheus metrics `/metrics` reports. */
  readonly metrics: PipelineMetrics;
  /** The HTTP server, when `httpPort` was set. */
  readonly server: OpsServer | undefined;
  /**
   * Follows a pipeline's events: records read, the source's status (connection, lag), committed
   * batches, retries of durable steps (logged at WARN, counted in `ticketflow_storage_retries_total`,
   * reported by `/healthz` until they succeed). Stops following when the stream completes.
   */
  observe(events$: Observable<PipelineEvent>): Subscription;
  /** Wraps the pipeline's sink to count failed writes and to see them succeed again. */
  watchSink<M>(sink: Sink<M>): Sink<M>;
  /** The pipeline's retry policy: a failing durable step is retried for `sinkRetryFor`. */
  retryOptions(): RetryOptions;
  /** Records a failed storage request that is being retried by the storage client (S3). */
  outputRetrying(reason: string): void;
  /** The pipeline failed. */
  failed(error: unknown): void;
  /** Closes the HTTP server. */
  close(): Promise<void>;
}

/** What a step did, for the log line of its recovery. */
const DONE: Record<DurableStep, (batchId: number) => string> = {
  begin: (id) => `batch ${id} recorded in the checkpoint`,
  'dead-letters': (id) => `dead letters of batch ${id} written`,
  write: (id) => `batch ${id} written`,
  commit: (id) => `batch ${id} committed`,
};

const reasonOf = (error: unknown) => firstLine(error instanceof Error ? error.message : String(error));

/**
 * Sets up the processor's health and metrics and, when `settings.httpPort` is set, starts the HTTP
 * server (`/healthz`, `/metrics`), logging `http listening on :PORT`.
 *
 * {@link Operations.retryOptions} is the pipeline's retry policy: a failing durable step of a batch
 * (checkpoint, dead letters, batch file, commit) is retried with exponential backoff (0.5 s doubling to
 * 30 s) for `settings.sinkRetryFor` ms while `/healthz` answers 503; the batch is then written with the
 * same id and content, so nothing is lost or counted twice. Without `sinkRetryFor`, or once it has
 * passed, or once the processor is stopping, the failure ends the run (exit code 1); the uncommitted
 * batch is rebuilt by the next run.
 */
export async function startOperations(
  settings: OperationsSettings,
  parts: OperationsParts,
): Promise<Operations> {
  const { logger } = parts;
  /** The source's latest status, from `source-status` events; empty for sources that report none. */
  let status: SourceStatus = {};
  const health = createHealth({
    sourceName: parts.sourceName,
    windowMs: settings.window,
    connected: () => status.connected ?? null,
  });
  const serving = settings.httpPort !== undefined;
  const metrics = createPipelineMetrics({
    lag: () => (status.lag ?? []).map(({ lane, lag }) => ({ partition: partitionOf(lane), lag })),
    healthy: () => health.report().healthy,
    processMetrics: serving,
  });
  let server: OpsServer | undefined;
  if (settings.httpPort !== undefined) {
    server = await startOpsServer({
      port: settings.httpPort,
      ...(settings.httpHost !== undefined ? { host: settings.httpHost } : {}),
      health: () => health.report(),
      metrics: () => metrics.render(),
    });
    logger.info(`http listening on :${server.port}`, { host: server.host, endpoints: '/healthz /metrics' });
  }

  return {
    health,
    metrics,
    server,
    observe(events$) {
      return events$.subscribe((event) => {
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
          case 'batch-committed':
            health.batchCommitted(event.batch.batchId);
            metrics.batchCommitted(event.batch);
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
      });
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
            throw error;
          }
          health.outputSucceeded();
        },
      };
    },
    retryOptions() {
      return { for: settings.sinkRetryFor ?? 0 };
    },
    outputRetrying(reason) {
      metrics.storageRetried('s3-request');
      health.outputFailed(reason);
    },
    failed(error) {
      health.failed(reasonOf(error));
    },
    async close() {
      await server?.close();
    },
  };
}

/** The partition of a Kafka lane (`topic/3` → 3). */
function partitionOf(lane: string): number {
  return Number(lane.slice(lane.lastIndexOf('/') + 1));
}
