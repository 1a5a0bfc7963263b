import type { Batch, BlobStore, Sink } from '@ticketflow/core';
import { batchFileName } from './batch-key';

/** Options of {@link jsonSink}. */
export interface JsonSinkOptions<M> {
  /** Where the files go: `localBlobStore(dir)` or an S3 store. */
  readonly store: BlobStore;
  /**
   * Turns a batch into the JSON object written. Default: `batch_id`, `window_start`, `window_end`
   * (ISO-8601 UTC), `records`, `invalid_records`, then every metric.
   */
  readonly format?: (batch: Batch<M>) => unknown;
  /** Key prefix inside the store, such as `'metrics/'`. Default: none. */
  readonly prefix?: string;
}

/** The default batch format: the batch's bounds and counts, then its metrics. */
export function defaultBatchFormat<M>(batch: Batch<M>): Record<string, unknown> {
  return {
    batch_id: batch.batchId,
    window_start: batch.windowStart.toISOString(),
    window_end: batch.windowEnd.toISOString(),
    records: batch.records,
    invalid_records: batch.invalidRecords,
    ...(batch.metrics as object),
  };
}

/**
 * A {@link Sink} writing one JSON file per batch, `batch_XXXXX.json`, as a single line (the form Athena's
 * JSON reader expects). The store makes each write atomic and durable; the same batch always gives the
 * same bytes, so a replayed batch rewrites an identical file.
 *
 * @example
 * ```ts
 * const sink = jsonSink({ store: localBlobStore('./ticket_metrics_json') });
 * ```
 */
export function jsonSink<M>(options: JsonSinkOptions<M>): Sink<M> {
  const { store } = options;
  const prefix = options.prefix ?? '';
  const format = options.format ?? defaultBatchFormat;
  const keyOf = (batchId: number) => prefix + batchFileName(batchId);
  return {
    async write(batch) {
      await store.put(keyOf(batch.batchId), `${JSON.stringify(format(batch))}\n`);
    },
    describe: (batchId) => store.describe(keyOf(batchId)),
  };
}
