import {
  type BatchProgress,
  type DurableStep,
  firstLine,
  type RetryOptions,
  type Sink,
  type Source,
} from '@ticketflow/core';
import { tap } from 'rxjs';
import type { Logger } from '../logger';
import { createHealth, type Health } from './health';
import { type OpsServer, startOpsServer } from './http-server';
import { createPipelineMetrics, type PartitionLagSample, type PipelineMetrics } from './metrics-registry';

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
  /** Consumer lag per partition, when the source is Kafka. */
  readonly lag?: () => ReadonlyArray<PartitionLagSample>;
  /** Whether the source reaches its brokers, when the source is Kafka. */
  readonly connected?: () => boolean;
}

/** Health, metrics and the HTTP server of a running processor. */
export interface Operations {
  /** The health state `/healthz` reports. */
  readonly health: Health;
  /** The Prometheus metrics `/metrics` reports. */
  readonly metrics: PipelineMetrics;
  /** The HTTP server, when `httpPort` was set. */
  readonly server: OpsServer | undefined;
  /** Wraps the pipeline's source to see records arrive. */
  watchSource<R>(source: Source<R>): Source<R>;
  /** Wraps the pipeline's sink to count failed writes and to see them succeed again. */
  watchSink<M>(sink: Sink<M>): Sink<M>;
  /**
   * The pipeline's retry policy: `sinkRetryFor`, with each retry logged (WARN), counted
   * (`ticketflow_storage_retries_total{step}`) and reported by `/healthz` (503) until the step succeeds.
   */
  retryOptions(): RetryOptions;
  /** Records a committed batch. */
  batchCommitted(progress: BatchProgress): void;
  /** Records a failed storage request that is being retried by the storage client (S3). */
  outputRetrying(reason: string): void;
  /** The processor was asked to stop: a failing write is no longer retried. */
  stopping(): void;
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
  const health = createHealth({
    sourceName: parts.sourceName,
    windowMs: settings.window,
    ...(parts.connected ? { connected: parts.connected } : {}),
  });
  const serving = settings.httpPort !== undefined;
  const metrics = createPipelineMetrics({
    ...(parts.lag ? { lag: parts.lag } : {}),
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
    watchSource<R>(source: Source<R>): Source<R> {
      return {
        name: source.name,
        open(context) {
          health.running();
          return source.open(context).pipe(tap((chunk) => health.recordsRead(chunk.values.length)));
        },
        acknowledge: (range, positions) => source.acknowledge(range, positions),
        ...(source.close ? { close: () => (source.close as () => Promise<void>)() } : {}),
      };
    },
    watchSink<M>(sink: Sink<M>): Sink<M> {
      return {
        describe: (batchId) => sink.describe(batchId),
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
      return {
        for: settings.sinkRetryFor ?? 0,
        onRetry(event) {
          metrics.storageRetried(event.step);
          health.outputFailed(reasonOf(event.error));
          logger.warn(
            `${event.error.message} (attempt ${event.attempt}); retrying in ${Math.round(event.delayMs)} ms`,
          );
        },
        onRecovered(event) {
          health.outputSucceeded();
          logger.info(`${DONE[event.step](event.batchId)} after ${event.attempts} attempts`);
        },
      };
    },
    batchCommitted(progress) {
      health.batchCommitted(progress.batchId);
      metrics.batchCommitted(progress);
    },
    outputRetrying(reason) {
      metrics.storageRetried('s3-request');
      health.outputFailed(reason);
    },
    stopping() {
      health.stopping();
    },
    failed(error) {
      health.failed(reasonOf(error));
    },
    async close() {
      await server?.close();
    },
  };
}
