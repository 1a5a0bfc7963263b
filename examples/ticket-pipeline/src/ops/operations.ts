import { type BatchProgress, firstLine, type Sink, type Source } from '@ticketflow/core';
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
   * How long a failed batch write is retried, in ms, before the processor gives up and exits 1.
   * Default: not retried (the processor exits at the first failure).
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
  /** Waits between write attempts; tests pass a faster one. Default: a timer. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The clock the retry limit is measured with, in ms. Default `Date.now`. */
  readonly now?: () => number;
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
  /** Wraps the pipeline's sink to see write failures, and to retry them for `sinkRetryFor`. */
  watchSink<M>(sink: Sink<M>): Sink<M>;
  /** Records a committed batch. */
  batchCommitted(progress: BatchProgress): void;
  /** Records a failed storage request that is being retried (S3). */
  outputRetrying(reason: string): void;
  /** The processor was asked to stop: a failing write is no longer retried. */
  stopping(): void;
  /** The pipeline failed. */
  failed(error: unknown): void;
  /** Closes the HTTP server. */
  close(): Promise<void>;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const reasonOf = (error: unknown) => firstLine(error instanceof Error ? error.message : String(error));

/**
 * Sets up the processor's health and metrics and, when `settings.httpPort` is set, starts the HTTP
 * server (`/healthz`, `/metrics`), logging `http listening on :PORT`.
 *
 * A failed batch write is retried with exponential backoff (0.5 s doubling to 30 s) for
 * `settings.sinkRetryFor` ms while `/healthz` answers 503; the batch is then written with the same id
 * and content, so nothing is lost or counted twice. Without `sinkRetryFor`, or once it has passed, or
 * once the processor is stopping, the failure ends the run (exit code 1); the uncommitted batch is
 * rebuilt by the next run.
 */
export async function startOperations(
  settings: OperationsSettings,
  parts: OperationsParts,
): Promise<Operations> {
  const { logger } = parts;
  const sleep = parts.sleep ?? sleepFor;
  const now = parts.now ?? Date.now;
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
  const stop = new AbortController();
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
      const retryForMs = settings.sinkRetryFor ?? 0;
      return {
        describe: (batchId) => sink.describe(batchId),
        ...(sink.close ? { close: () => (sink.close as () => Promise<void>)() } : {}),
        async write(batch) {
          const began = now();
          let delay = FIRST_RETRY_MS;
          for (let attempt = 1; ; attempt++) {
            try {
              await sink.write(batch);
              if (attempt > 1) logger.info(`batch ${batch.batchId} written after ${attempt} attempts`);
              health.outputSucceeded();
              return;
            } catch (error) {
              const reason = reasonOf(error);
              metrics.sinkWriteFailed();
              health.outputFailed(reason);
              const elapsed = now() - began;
              if (stop.signal.aborted || elapsed + delay > retryForMs) throw error;
              logger.warn(
                `cannot write batch ${batch.batchId} (attempt ${attempt}): ${reason}; retrying in ${delay} ms`,
              );
              await sleep(delay, stop.signal);
              delay = Math.min(delay * 2, MAX_RETRY_MS);
            }
          }
        },
      };
    },
    batchCommitted(progress) {
      health.batchCommitted(progress.batchId);
      metrics.batchCommitted(progress);
    },
    outputRetrying(reason) {
      health.outputFailed(reason);
    },
    stopping() {
      health.stopping();
      stop.abort();
    },
    failed(error) {
      health.failed(reasonOf(error));
    },
    async close() {
      stop.abort();
      await server?.close();
    },
  };
}
