import { gzipSync } from 'node:zlib';
import {
  type Batch,
  type BlobStore,
  type FinalWindow,
  InvalidOptionError,
  type Sink,
} from '@ticketflow/core';
import { BATCH_LAYOUTS, type BatchLayout, batchFileName, batchKey, windowKey } from './batch-key';

/** Options of {@link jsonSink}. */
export interface JsonSinkOptions<M> {
  /** Where the files go: `localBlobStore(dir)` or `s3BlobStore({...})`. */
  readonly store: BlobStore;
  /**
   * Turns a batch into the JSON object written. Default: `batch_id`, `window_start`, `window_end`
   * (ISO-8601 UTC), `records`, `invalid_records`, then every metric.
   */
  readonly format?: (batch: Batch<M>) => unknown;
  /** Key prefix inside the store, such as `'metrics/'`. Default: none. */
  readonly prefix?: string;
  /**
   * `'flat'` (default): `batch_00042.json`; `'hive'`: `dt=YYYY-MM-DD/hour=HH/batch_00042.json`, from the
   * batch's `window_start` in UTC. See {@link BatchLayout}.
   */
  readonly layout?: BatchLayout;
  /** Gzip-compresses each file and adds `.gz` to its name. Default `false`. */
  readonly gzip?: boolean;
  /**
   * Turns an event-time window the batch made final (see `Batch.windows`) into the JSON object written
   * to its file (named by {@link windowKey}). Default: {@link defaultWindowFormat}.
   */
  readonly windowFormat?: (window: FinalWindow, batch: Batch<M>) => unknown;
}

/**
 * The default window format: `window_start`, `window_end` (ISO-8601 UTC), `records`, then every metric,
 * then `final_batch_id`, the batch that made the window final.
 */
export function defaultWindowFormat(window: FinalWindow, batch: Batch<unknown>): Record<string, unknown> {
  return {
    window_start: window.windowStart.toISOString(),
    window_end: window.windowEnd.toISOString(),
    records: window.records,
    ...(window.metrics as object),
    final_batch_id: batch.batchId,
  };
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

/** How many recent batch keys a sink remembers for `describe`. */
const REMEMBERED_KEYS = 64;

/**
 * A {@link Sink} writing one file per batch holding the batch as one JSON object on one newline-terminated
 * line (JSON Lines, the form Athena's JSON SerDe and DuckDB's `read_json` expect), named by `layout`
 * and optionally gzip-compressed, and one file per event-time window the batch made final (see
 * {@link windowKey}), written before the batch file. The store makes each write atomic and durable;
 * the same batch always gives the same keys and the same bytes (gzip output carries no timestamp), so a
 * replayed batch rewrites identical files.
 *
 * @example
 * ```ts
 * const sink = jsonSink({ store: localBlobStore('./ticket_metrics_json') });
 * const store = s3BlobStore(parseS3Url('s3://analytics/tickets'));
 * const athena = jsonSink({ store, layout: 'hive', gzip: true });
 * ```
 */
export function jsonSink<M>(options: JsonSinkOptions<M>): Sink<M> {
  const { store } = options;
  const prefix = options.prefix ?? '';
  const format = options.format ?? defaultBatchFormat;
  const layout = options.layout ?? 'flat';
  const gzip = options.gzip ?? false;
  const windowFormat = options.windowFormat ?? defaultWindowFormat;
  const encode = (value: unknown): string | Buffer => {
    const text = `${JSON.stringify(value)}\n`;
    return gzip ? gzipSync(Buffer.from(text, 'utf8')) : text;
  };
  if (!(BATCH_LAYOUTS as readonly string[]).includes(layout)) {
    throw new InvalidOptionError(
      `layout must be one of ${BATCH_LAYOUTS.join(', ')}, got ${JSON.stringify(layout as string)}`,
    );
  }
  const written = new Map<number, string>();
  const remember = (batchId: number, key: string) => {
    written.delete(batchId);
    written.set(batchId, key);
    if (written.size > REMEMBERED_KEYS) {
      const oldest = written.keys().next();
      if (!oldest.done) written.delete(oldest.value);
    }
  };
  return {
    async write(batch) {
      // The windows first: a batch file present means every file of its transaction is.
      for (const window of batch.windows ?? []) {
        await store.put(prefix + windowKey(window, { gzip }), encode(windowFormat(window, batch)));
      }
      const key = prefix + batchKey(batch.batchId, batch.windowStart, { layout, gzip });
      await store.put(key, encode(format(batch)));
      remember(batch.batchId, key);
    },
    describe(batchId) {
      const key =
        written.get(batchId) ??
        prefix +
          (layout === 'hive' ? 'dt=*/hour=*/' : '') +
          batchFileName(batchId, gzip ? '.json.gz' : '.json');
      return store.describe(key);
    },
    describeWindow(window) {
      return store.describe(prefix + windowKey(window, { gzip }));
    },
  };
}
