import type { BatchProgress } from '@ticketflow/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Consumer lag of one partition, as `KafkaSource.lag()` reports it. */
export interface PartitionLagSample {
  /** The partition. */
  readonly partition: number;
  /** Messages in the partition not read yet. */
  readonly lag: number;
}

/** Options of {@link createPipelineMetrics}. */
export interface PipelineMetricsOptions {
  /** Consumer lag per partition, read at each scrape; absent for sources other than Kafka. */
  readonly lag?: () => ReadonlyArray<PartitionLagSample>;
  /** Whether the processor is healthy, read at each scrape for `ticketflow_healthy`. */
  readonly healthy?: () => boolean;
  /** Adds Node.js process metrics (`process_*`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean;
  /**
   * The pipeline's stage: `'partial'` adds `ticketflow_transactions_committed_total`,
   * `ticketflow_transactions_aborted_total` and `ticketflow_partials_produced_total`; `'merge'` adds
   * `ticketflow_partials_merged_total`. Default `'final'`.
   */
  readonly stage?: 'final' | 'partial' | 'merge';
}

/** The processor's Prometheus metrics, in a registry of their own. */
export interface PipelineMetrics {
  /** The registry holding every metric (never prom-client's global one). */
  readonly registry: Registry;
  /** Counts a committed batch: its records, its invalid records, its duration and its time. */
  batchCommitted(progress: BatchProgress, at?: Date): void;
  /** Counts a failed attempt to write a batch. */
  sinkWriteFailed(): void;
  /**
   * Counts a retry of a storage step: `begin`, `dead-letters`, `write` or `commit` (a durable step of a
   * batch, retried for `--sink-retry-for`), or `s3-request` (one S3 request retried by the AWS SDK).
   */
  storageRetried(step: string): void;
  /** Partial stage: counts a transaction aborted (the run failed with one open). */
  transactionAborted(): void;
  /** Renders every metric in the Prometheus text format. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Upper bounds of `ticketflow_batch_duration_seconds`, in seconds. */
export const BATCH_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Creates the processor's metrics, updated from the pipeline's progress events:
 *
 * | metric | type | meaning |
 * | --- | --- | --- |
 * | `ticketflow_records_total` | counter | records read, valid or not, in committed batches |
 * | `ticketflow_invalid_records_total` | counter | invalid records (sent to the dead letters) in committed batches |
 * | `ticketflow_batches_total` | counter | batches written, checkpointed and acknowledged |
 * | `ticketflow_batch_duration_seconds` | histogram | time from a window's close to its batch being acknowledged |
 * | `ticketflow_last_batch_timestamp_seconds` | gauge | Unix time the last batch was committed |
 * | `ticketflow_last_batch_id` | gauge | id of the last committed batch |
 * | `ticketflow_sink_write_failures_total` | counter | failed attempts to write a batch |
 * | `ticketflow_storage_retries_total{step}` | counter | retries of a durable step (`begin`, `dead-letters`, `write`, `commit`) or of an S3 request (`s3-request`) |
 * | `ticketflow_consumer_lag{partition}` | gauge | log end offset minus the consumer's position, per partition (Kafka only) |
 * | `ticketflow_data_loss_records_total` | counter | records lost before they could be read (retention, `DeleteRecords`) and accepted with `--on-data-loss continue`, counted with the committed batch that records them |
 * | `ticketflow_healthy` | gauge | 1 while `/healthz` answers 200, else 0 |
 *
 * `ticketflow_consumer_lag` exists only with `options.lag`, `ticketflow_healthy` only with
 * `options.healthy`. The registry is never prom-client's global one, so several pipelines (or tests)
 * in one process do not share counters.
 *
 * @param options - lag and health probes, read at each scrape; `processMetrics` (default true).
 * @returns the metrics; {@link PipelineMetrics.render} gives the Prometheus text.
 *
 * @example
 * ```ts
 * const metrics = createPipelineMetrics({ processMetrics: false });
 * metrics.sinkWriteFailed();
 * const { body } = await metrics.render();
 * body.includes('ticketflow_sink_write_failures_total 1');
 * // true
 * ```
 */
export function createPipelineMetrics(options: PipelineMetricsOptions = {}): PipelineMetrics {
  const registry = new Registry();
  const registers = [registry];
  const records = new Counter({
    name: 'ticketflow_records_total',
    help: 'Records read (valid and invalid) in committed batches.',
    registers,
  });
  const invalid = new Counter({
    name: 'ticketflow_invalid_records_total',
    help: 'Invalid records (sent to the dead-letter output) in committed batches.',
    registers,
  });
  const batches = new Counter({
    name: 'ticketflow_batches_total',
    help: 'Batches written, checkpointed and acknowledged.',
    registers,
  });
  const duration = new Histogram({
    name: 'ticketflow_batch_duration_seconds',
    help: "Time from a window's close until its batch is written, checkpointed and acknowledged.",
    buckets: BATCH_DURATION_BUCKETS,
    registers,
  });
  const lastBatchTime = new Gauge({
    name: 'ticketflow_last_batch_timestamp_seconds',
    help: 'Unix time at which the last batch was committed.',
    registers,
  });
  const lastBatchId = new Gauge({
    name: 'ticketflow_last_batch_id',
    help: 'Id of the last committed batch.',
    registers,
  });
  const dataLoss = new Counter({
    name: 'ticketflow_data_loss_records_total',
    help: 'Records deleted (retention, DeleteRecords) before they could be read, accepted with --on-data-loss continue; counted with the committed batch that records the loss.',
    registers,
  });
  const sinkFailures = new Counter({
    name: 'ticketflow_sink_write_failures_total',
    help: 'Failed attempts to write a batch to the output.',
    registers,
  });
  const storageRetries = new Counter({
    name: 'ticketflow_storage_retries_total',
    help: 'Retries of a durable step of a batch (step: begin, dead-letters, write, commit; see --sink-retry-for) or of one S3 request by the AWS SDK (step: s3-request).',
    labelNames: ['step'] as const,
    registers,
  });
  if (options.lag) {
    const lag = options.lag;
    new Gauge({
      name: 'ticketflow_consumer_lag',
      help: "Messages in the partition not read yet: the log end offset minus the consumer's position (which counts transaction markers), per assigned partition.",
      labelNames: ['partition'] as const,
      registers,
      collect() {
        this.reset();
        for (const sample of lag()) this.set({ partition: String(sample.partition) }, sample.lag);
      },
    });
  }
  if (options.healthy) {
    const healthy = options.healthy;
    new Gauge({
      name: 'ticketflow_healthy',
      help: '1 while /healthz answers 200, else 0.',
      registers,
      collect() {
        this.set(healthy() ? 1 : 0);
      },
    });
  }
  const stage = options.stage ?? 'final';
  const committedTransactions =
    stage === 'partial'
      ? new Counter({
          name: 'ticketflow_transactions_committed_total',
          help: 'Kafka transactions committed: each produced a partial aggregate, its dead letters and its offsets.',
          registers,
        })
      : undefined;
  const abortedTransactions =
    stage === 'partial'
      ? new Counter({
          name: 'ticketflow_transactions_aborted_total',
          help: 'Kafka transactions aborted: their records are consumed again from the committed offsets.',
          registers,
        })
      : undefined;
  const producedPartials =
    stage === 'partial'
      ? new Counter({
          name: 'ticketflow_partials_produced_total',
          help: 'Partial aggregates produced to the partials topic.',
          registers,
        })
      : undefined;
  const mergedPartials =
    stage === 'merge'
      ? new Counter({
          name: 'ticketflow_partials_merged_total',
          help: 'Partial aggregates merged into batches.',
          registers,
        })
      : undefined;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  return {
    registry,
    batchCommitted(progress, at = new Date()) {
      records.inc(progress.inputRecords);
      invalid.inc(progress.invalidRecords);
      dataLoss.inc(progress.lostRecords ?? 0);
      batches.inc();
      duration.observe(Math.max(0, progress.durationMs.total - progress.durationMs.fold) / 1000);
      lastBatchTime.set(at.getTime() / 1000);
      lastBatchId.set(progress.batchId);
      committedTransactions?.inc();
      producedPartials?.inc();
      mergedPartials?.inc(progress.partials ?? 0);
    },
    transactionAborted() {
      abortedTransactions?.inc();
    },
    sinkWriteFailed() {
      sinkFailures.inc();
    },
    storageRetried(step) {
      storageRetries.inc({ step });
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
