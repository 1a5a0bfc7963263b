import type { InputRange } from './source';

/** One finished micro-batch, as a sink receives it. */
export interface Batch<M> {
  /** Consecutive from 0 for an output location, continuing across restarts. */
  readonly batchId: number;
  /** When the processing-time window opened (UTC). */
  readonly windowStart: Date;
  /** When it closed (UTC). */
  readonly windowEnd: Date;
  /** Valid records folded into the metrics. */
  readonly records: number;
  /** Invalid records, sent to the dead-letter handler. */
  readonly invalidRecords: number;
  /** The aggregators' results. */
  readonly metrics: M;
  /** The input the batch covers. */
  readonly range: InputRange;
}

/**
 * Where finished batches go. `write` resolves only once the batch is durable; writing the same batch
 * again must give the same result (a replay after a crash rewrites the same file or object).
 */
export interface Sink<M> {
  /** Writes one batch; resolves once it is durable. */
  write(batch: Batch<M>): Promise<void>;
  /** A short description of the destination for logs, such as `./ticket_metrics_json/batch_00042.json`. */
  describe(batchId: number): string;
  /** Releases resources. */
  close?(): Promise<void>;
}
