import { isUtf8 } from 'node:buffer';
import { isMainThread, parentPort, type ResourceLimits, workerData } from 'node:worker_threads';
import type { Aggregator, StateCodec, StateData } from './aggregator';
import type { EventTimeOptions } from './event-time';
import { EventTimeWindows, eventTimeSettings, type FoldedEventTime } from './internal/event-time-windows';
import { type RecordContext, Rejection, type Step, thrownReason } from './rejection';
import { stateCodecOf } from './state-codec';

/**
 * What a fold module defines: the decode step, the batch metrics and the event-time windows, built the
 * same way on the main thread and on every worker thread (see {@link foldWorker}).
 *
 * @typeParam R - the raw records of the source (they are copied to the worker threads, so they must be
 *   structured-clonable: strings, `Buffer`s, plain objects)
 * @typeParam T - the decoded records
 * @typeParam Acc - the accumulator of `metrics`
 */
export interface FoldDefinition<R, T, Acc> {
  /** Parses, validates and transforms a raw record, as `PipelineOptions.decode`. Default: identity. */
  readonly decode?: Step<R, T>;
  /** The batch metrics, as `PipelineOptions.metrics`. Needs a codec: worker threads send its state. */
  readonly metrics: Aggregator<T, Acc, unknown>;
  /** The event-time windows, as `PipelineOptions.eventTime`. Default: none. */
  readonly eventTime?: EventTimeOptions<T>;
}

/**
 * Worker threads that decode and fold the records (`PipelineOptions.workers`).
 *
 * The main thread reads the source, cuts the batches, and sends each run of records (a source chunk, cut
 * at {@link WorkerOptions.maxRunRecords} and at batch boundaries) to the next worker; each worker decodes
 * and folds its run into fresh accumulators with the fold module's definition, and sends back their
 * encoded state; the main thread merges the runs in the order they were read. The result equals the
 * single-thread fold whenever the aggregators' `merge` is exact (counts, `countBy`, integer sums and
 * means, minimum and maximum, quantile sketches while they hold their values exactly). A floating-point
 * sum of non-integers can differ in its last digits from the single-thread sum, since addition is not
 * associative; it is the same for any number of workers, given the same source chunks.
 */
export interface WorkerOptions<R = unknown> {
  /**
   * The fold module: a file (path or `file:` URL) that calls {@link foldWorker} when it is imported,
   * typically as its default export. A `.ts` or `.mts` module is loaded through `tsx`, which must then
   * be installed where the module is.
   */
  readonly module: string | URL;
  /** How many worker threads. Default: `os.availableParallelism()`. At least 1. */
  readonly count?: number;
  /**
   * What the fold module's factory is called with, on every thread: structured-clonable data (no
   * functions). Default `undefined`.
   */
  readonly options?: unknown;
  /** Node.js options of the worker threads, as `new Worker(..., { execArgv })`. Default: the process's. */
  readonly execArgv?: readonly string[];
  /**
   * Heap limits of each worker thread, as `new Worker(..., { resourceLimits })`. Default
   * `{ maxYoungGenerationSizeMb: 8 }`: the records of a run are short-lived, and a small young generation
   * keeps the process's memory low (3,000,000 tickets in one window: 228 MB peak RSS with two workers,
   * against 254-263 MB with Node's default, at the same speed).
   */
  readonly resourceLimits?: ResourceLimits;
  /** The most records sent to a worker at once. Default 8192. */
  readonly maxRunRecords?: number;
  /** Runs sent to the workers and not yet merged, at most; the source is paused beyond. Default 2 per worker. */
  readonly maxRunsInFlight?: number;
  /**
   * Sends each record to the worker threads as its bytes, read there as UTF-8 text, instead of a copy
   * of the whole record: the fold module's `decode` then receives strings. One buffer per run crosses
   * to a thread, where a copy of each record would cost the main thread more than decoding it. `bytes`
   * gives a record's bytes, or a {@link Rejection} (the record is refused with its reason); bytes that
   * are not valid UTF-8 are refused with `notUtf8Reason`. The dead letters keep the records themselves.
   * For Kafka messages, `kafkaValueText` of `@ticketflow/kafka-source`. Default: each record is copied
   * (structured clone).
   */
  readonly text?: RecordText<R>;
}

/** How a record is sent to the worker threads as text: see {@link WorkerOptions.text}. */
export interface RecordText<R> {
  /** The record's bytes, or why it is refused. */
  readonly bytes: (record: R) => Uint8Array | Rejection;
  /** The reason a record whose bytes are not valid UTF-8 is refused with. */
  readonly notUtf8Reason: string;
}

/** Marks the `workerData` of a fold worker thread. */
export const FOLD_WORKER = 'ticketflow.fold-worker/1';

/** The messages between the main thread and a fold worker. @internal */
export interface ToWorker {
  readonly type: 'run';
  readonly seq: number;
  readonly lane: string;
  /** The raw records; absent when `lines` holds them. */
  readonly values?: readonly unknown[];
  /**
   * Text lines as bytes: line `i` is `bytes[bounds[2i] .. bounds[2i + 1])`, decoded as UTF-8; with
   * `notUtf8Reason`, a line that is not valid UTF-8 is refused with it.
   */
  readonly lines?: {
    readonly bytes: Uint8Array;
    readonly bounds: Int32Array;
    readonly notUtf8Reason?: string;
  };
  readonly offsets: readonly number[];
  readonly rejected?: ReadonlyArray<readonly [number, string]>;
}

/** @internal */
export type FromWorker =
  | {
      readonly type: 'ready';
      readonly codec: string;
      readonly windows: ReadonlyArray<readonly [string, number, string]>;
      readonly panes: readonly number[];
      readonly batchPane: number;
    }
  | {
      readonly type: 'folded';
      readonly seq: number;
      readonly state: StateData;
      readonly valid: number;
      /** Refused records: index in the run, reason, and for `lines` the record's text. */
      readonly rejected: ReadonlyArray<readonly [number, string, string?]>;
      readonly eventTime?: FoldedEventTime;
      readonly ms: number;
    }
  | { readonly type: 'failed'; readonly message: string };

/** What the main thread gives a fold worker at start (its `workerData`). @internal */
export interface FoldWorkerData {
  readonly [FOLD_WORKER]: true;
  readonly module: string;
  readonly options: unknown;
  /** The `tsx/esm/api` module to register first, for a TypeScript fold module. */
  readonly loader?: string;
}

/**
 * Declares a fold module for {@link WorkerOptions}: `define(options)` builds the decode step, the
 * metrics and the event-time windows. Returns `define` itself, so the main thread builds its pipeline
 * from the same definition; loaded on a fold worker thread, it also starts serving that thread.
 *
 * @example
 * ```ts
 * // orders-fold.ts: the fold module, loaded by the main thread and by every worker thread.
 * interface Order {
 *   readonly amount: number;
 *   readonly shop: string;
 * }
 * export default foldWorker((options: { readonly banned: string }) => ({
 *   decode: (line: string) => {
 *     const order = JSON.parse(line) as Order;
 *     return order.shop === options.banned ? reject(`shop ${order.shop} is banned`) : order;
 *   },
 *   metrics: metrics({ orders: count(), amount: sum((o: Order) => o.amount) }),
 * }));
 * // The pipeline, in another module:
 * //   import define from './orders-fold.js';
 * //   const options = { banned: 'test-shop' };
 * //   createPipeline({ ...define(options), source, sink,
 * //     workers: { module: new URL('./orders-fold.js', import.meta.url), options } });
 * ```
 */
export function foldWorker<O, R, T, Acc>(
  define: (options: O) => FoldDefinition<R, T, Acc>,
): (options: O) => FoldDefinition<R, T, Acc> {
  const data = workerData as Partial<FoldWorkerData> | null;
  if (!isMainThread && parentPort !== null && data?.[FOLD_WORKER] === true) {
    serve(define as (options: unknown) => FoldDefinition<unknown, unknown, unknown>, data as FoldWorkerData);
  }
  return define;
}

/** Set on a thread once it serves a fold: the bootstrap checks the module called {@link foldWorker}. */
const SERVING = Symbol.for('ticketflow.fold-worker.serving');

/** Serves one fold worker thread: folds each run it is sent, replies in the order received. */
function serve(
  define: (options: unknown) => FoldDefinition<unknown, unknown, unknown>,
  data: FoldWorkerData,
): void {
  // A module imported twice in the thread (under two URLs) serves once.
  const flags = globalThis as { [SERVING]?: boolean };
  if (flags[SERVING] === true) return;
  flags[SERVING] = true;
  const port = parentPort as NonNullable<typeof parentPort>;
  let fold: (message: ToWorker) => FromWorker;
  try {
    const definition = define(data.options);
    fold = folder(definition, (ready) => port.postMessage(ready));
  } catch (error) {
    port.postMessage({ type: 'failed', message: thrownReason(error).replace(/^decode threw /, '') });
    return;
  }
  port.on('message', (message: ToWorker) => {
    try {
      port.postMessage(fold(message));
    } catch (error) {
      port.postMessage({ type: 'failed', message: thrownReason(error).replace(/^decode threw /, '') });
    }
  });
}

/** The fold of one run, and the `ready` message describing it. */
function folder(
  definition: FoldDefinition<unknown, unknown, unknown>,
  announce: (ready: FromWorker) => void,
): (message: ToWorker) => FromWorker {
  const { metrics } = definition;
  const decode = definition.decode ?? ((value: unknown) => value);
  const codec: StateCodec<unknown> = stateCodecOf(metrics, 'the metrics of a fold worker');
  const settings = definition.eventTime ? eventTimeSettings(definition.eventTime) : undefined;
  const windows = settings
    ? new EventTimeWindows<unknown>(settings, undefined, 0, metrics, 'final')
    : undefined;
  const layout = windows?.layout() ?? { panes: [], batchPane: -1 };
  announce({
    type: 'ready',
    codec: codec.id,
    windows: (settings?.windows ?? []).map(
      (w) => [w.name, w.size, stateCodecOf(w.metrics, `the metrics of window "${w.name}"`).id] as const,
    ),
    panes: layout.panes,
    batchPane: layout.batchPane,
  });
  const context: { lane: string; offset: number } = { lane: '', offset: 0 };
  return (message) => {
    const began = performance.now();
    const { offsets, lane } = message;
    const values = message.values ?? linesOf(message.lines as NonNullable<ToWorker['lines']>);
    const packed = message.values === undefined;
    const notUtf8 = message.lines?.notUtf8Reason;
    const refusedBySource =
      message.rejected !== undefined || notUtf8 !== undefined
        ? new Map<number, string>(message.rejected ?? [])
        : undefined;
    if (notUtf8 !== undefined && refusedBySource !== undefined) {
      const { bytes, bounds } = message.lines as NonNullable<ToWorker['lines']>;
      for (let i = 0; i < values.length; i++) {
        if (!refusedBySource.has(i) && !isUtf8(bytes.subarray(bounds[2 * i], bounds[2 * i + 1])))
          refusedBySource.set(i, notUtf8);
      }
    }
    const rejected: Array<readonly [number, string, string?]> = [];
    let acc = metrics.init();
    const partial = windows?.partial();
    let valid = 0;
    context.lane = lane;
    for (let i = 0; i < values.length; i++) {
      context.offset = offsets[i] as number;
      const refused = refusedBySource?.get(i);
      let decoded: unknown;
      if (refused !== undefined) decoded = new Rejection(refused);
      else {
        try {
          decoded = decode(values[i], context as RecordContext);
        } catch (error) {
          decoded = new Rejection(thrownReason(error));
        }
      }
      if (decoded instanceof Rejection) {
        rejected.push(packed ? [i, decoded.reason, values[i] as string] : [i, decoded.reason]);
        continue;
      }
      // With before = null no record is late here: the main thread judges lateness when it merges.
      if (partial === undefined || !(windows as EventTimeWindows<unknown>).add(partial, decoded, null))
        acc = metrics.add(acc, decoded);
      valid += 1;
    }
    const folded = {
      type: 'folded' as const,
      seq: message.seq,
      state: codec.encode(acc),
      valid,
      rejected,
      ms: performance.now() - began,
    };
    return partial === undefined
      ? folded
      : { ...folded, eventTime: (windows as EventTimeWindows<unknown>).exportFolded(partial) };
  };
}

/** The strings of text lines sent as bytes. */
function linesOf(lines: NonNullable<ToWorker['lines']>): string[] {
  const { bytes, bounds } = lines;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Array<string>(bounds.length / 2);
  for (let i = 0; i < values.length; i++)
    values[i] = text.toString('utf8', bounds[2 * i] as number, bounds[2 * i + 1] as number);
  return values;
}
