import type { Aggregator, StateData } from './aggregator';
import { type Duration, toMilliseconds } from './duration';
import { InvalidOptionError } from './errors';

/**
 * A tumbling event-time window: consecutive, non-overlapping spans of event time aligned on the Unix
 * epoch (so a `'1h'` window covers one UTC hour, a `'24h'` one UTC day), each folded into its own
 * accumulator and emitted once, final, when the watermark passes its end.
 *
 * @typeParam T - the records folded in
 * @typeParam Acc - the accumulator of `metrics`
 * @typeParam M - the result written for each window
 */
export interface TumblingWindow<T, Acc, M> {
  /** Names the window in files and logs, such as `'hourly'`. Unique within a pipeline. */
  readonly name: string;
  /** The window's length in event time, in ms (from {@link tumblingWindow}'s `size`). */
  readonly size: number;
  /**
   * What is folded per window. It must have a codec (see `StateCodec`): open windows are saved with
   * every committed batch.
   */
  readonly metrics: Aggregator<T, Acc, M>;
}

/** Options of {@link tumblingWindow}. */
export interface TumblingWindowOptions<T, Acc, M> {
  /** Names the window in files and logs, such as `'hourly'`. */
  readonly name: string;
  /** Length of each window: `'1h'`, `'24h'` (a UTC day), `'15m'`... At most 596h. */
  readonly size: Duration;
  /** The metrics folded per window; every member needs a codec. */
  readonly metrics: Aggregator<T, Acc, M>;
}

/**
 * Declares a tumbling event-time window for {@link EventTimeOptions.windows}.
 *
 * Throws `InvalidOptionError` when `name` is empty or `size` is not a positive duration.
 *
 * @example
 * ```ts
 * const hourly = tumblingWindow({ name: 'hourly', size: '1h', metrics: metrics({ total: count() }) });
 * ```
 */
export function tumblingWindow<T, Acc, M>(
  options: TumblingWindowOptions<T, Acc, M>,
): TumblingWindow<T, Acc, M> {
  if (typeof options.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(options.name)) {
    throw new InvalidOptionError(
      `a window name must be letters, digits, _ or -, got ${JSON.stringify(options.name)}`,
    );
  }
  return {
    name: options.name,
    size: toMilliseconds(options.size, `size of window "${options.name}"`),
    metrics: options.metrics,
  };
}

/**
 * Event-time windows of a pipeline: where each record belongs in time, and when a window is final.
 *
 * Watermark (the Flink and Spark term): after each micro-batch, each lane's watermark is the largest
 * event time seen in that lane minus `allowedLateness`; the pipeline's watermark is the minimum over
 * lanes that are not idle, never moves back, and is recorded with the batch so that a replayed batch
 * uses the same value. A window is final at the end of the first micro-batch whose watermark reaches
 * its end, and when the input ends. A record whose window ended at or before the previous batch's
 * watermark is late: it is counted in the batch's `lateRecords` and in no window.
 *
 * Far-future guard: a lane's watermark follows the second-largest event time the lane has seen, not
 * the largest, so one record with a clock far ahead cannot finalize every open window; that record is
 * still counted in its own window, which stays open until the watermark (or the end of the input)
 * reaches it. Two such records in one lane do move it.
 */
export interface EventTimeOptions<T> {
  /** The event time of a record, in ms since the epoch. A non-finite value makes the record late. */
  readonly timestamp: (record: T) => number;
  /** The windows, finest first is customary; names must be unique. */
  // biome-ignore lint/suspicious/noExplicitAny: each window has its own accumulator and result types
  readonly windows: readonly TumblingWindow<T, any, any>[];
  /** How far behind a lane's latest event time the watermark trails. Default `'10m'`; `0` for none. */
  readonly allowedLateness?: Duration | 0;
  /**
   * A lane that delivered no record for this long (processing time) stops holding the watermark
   * back, until it delivers again. Default `'1m'`.
   */
  readonly idleTimeout?: Duration;
}

/** One event-time window made final by a batch, as a sink receives it. */
export interface FinalWindow<M = unknown> {
  /** The window's name, such as `'hourly'`. */
  readonly name: string;
  /** The start of the window (inclusive), UTC. */
  readonly windowStart: Date;
  /** The end of the window (exclusive), UTC. */
  readonly windowEnd: Date;
  /** Records folded into the window, over every batch that contributed. */
  readonly records: number;
  /** The window's metrics. */
  readonly metrics: M;
}

/** The event-time state saved with each batch plan: watermark, lane progress and open windows. */
export interface EventTimeState {
  /** The watermark after the batch, ms since the epoch; `null` before any record. */
  readonly watermark: number | null;
  /** Per lane, the two largest event times seen (largest first; `null` when not seen). */
  readonly lanes: Readonly<Record<string, readonly [number | null, number | null]>>;
  /**
   * Per window name, the codec id of its metrics and the open windows: `[start, records, state]`,
   * ascending by start.
   */
  readonly windows: Readonly<
    Record<
      string,
      {
        /** The codec id of the window's metrics. */
        readonly codec: string;
        /** The window's size in ms. */
        readonly size?: number;
        /** The open windows: `[start, records, state]`. */
        readonly open: readonly (readonly [number, number, StateData])[];
      }
    >
  >;
}
