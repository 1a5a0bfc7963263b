import type { Aggregator, StateCodec, StateData } from '../aggregator';
import { InvalidOptionError } from '../errors';
import {
  QuantileSketch,
  type QuantileSketchJSON,
  type QuantileSketchOptions,
} from '../internal/quantile-sketch';
import { refuseState, StateDecodeError } from '../state-codec';

/** Options of the quantile aggregators. */
export type QuantileOptions = QuantileSketchOptions;

/**
 * The codec of an aggregator whose accumulator is a {@link QuantileSketch}: the sketch's
 * {@link QuantileSketch.toJSON} state (deterministic: exact counts ascending by value; a t-digest's
 * centroids and its buffered values in arrival order), rebuilt with {@link QuantileSketch.fromJSON}
 * into a sketch that behaves exactly like the saved one, with the compression and exact limit it was
 * saved with.
 *
 * @internal
 */
export function quantileSketchCodec(id: string): StateCodec<QuantileSketch> {
  return {
    id,
    encode: (acc) => ({ ...acc.toJSON() }),
    decode: (data: StateData) => {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        return refuseState(id, 'a quantile sketch state (an object)', data);
      }
      try {
        return QuantileSketch.fromJSON(data as unknown as QuantileSketchJSON);
      } catch (error) {
        if (error instanceof RangeError || error instanceof InvalidOptionError) {
          throw new StateDecodeError(id, '', error.message, error);
        }
        throw error;
      }
    },
  };
}

/** `quantiles/1`: the state of {@link quantiles}, {@link quantile} and {@link median}. */
const quantilesCodec = quantileSketchCodec('quantiles/1');

function checkProbability(q: number): void {
  if (!(q >= 0 && q <= 1)) throw new InvalidOptionError(`a quantile must be between 0 and 1, got ${q}`);
}

/**
 * Several quantiles of a numeric field from one mergeable sketch; each is `null` for an empty window.
 *
 * The sketch is exact (nearest rank: the smallest value with at least `q·n` values at or below it) while
 * a window holds at most `exactLimit` distinct values (1024 by default), and a deterministic t-digest
 * within 1% of rank past that. The same values in the same order always give the same result.
 *
 * Its codec (`quantiles/1`) saves the sketch's {@link QuantileSketch.toJSON} state: up to `exactLimit`
 * values with their counts, or about 2.5 to 3 × `compression` centroids and up to 8192 buffered values.
 * To also write the sketch in the form Trino and Athena merge, use `digest`, which shares one
 * sketch between the quantiles and that digest.
 *
 * @example
 * ```ts
 * quantiles((t: Ticket) => t.sla_hours, [0.9, 0.99]) // result: [72, 72]
 * ```
 */
export function quantiles<In>(
  value: (input: In) => number,
  probabilities: readonly number[],
  options: QuantileOptions = {},
): Aggregator<In, QuantileSketch, (number | null)[]> {
  probabilities.forEach(checkProbability);
  const qs = [...probabilities];
  return {
    init: () => new QuantileSketch(options),
    add: (acc, input) => {
      acc.add(value(input));
      return acc;
    },
    merge: (a, b) => a.merge(b),
    result: (acc) => acc.quantiles(qs),
    codec: quantilesCodec,
  };
}

/**
 * One quantile of a numeric field; `null` for an empty window. See {@link quantiles} for accuracy and
 * for its codec (`quantiles/1`).
 *
 * @example
 * ```ts
 * quantile((t: Ticket) => t.sla_hours, 0.9)
 * ```
 */
export function quantile<In>(
  value: (input: In) => number,
  probability: number,
  options: QuantileOptions = {},
): Aggregator<In, QuantileSketch, number | null> {
  checkProbability(probability);
  return {
    init: () => new QuantileSketch(options),
    add: (acc, input) => {
      acc.add(value(input));
      return acc;
    },
    merge: (a, b) => a.merge(b),
    result: (acc) => acc.quantile(probability),
    codec: quantilesCodec,
  };
}

/**
 * The median of a numeric field; `null` for an empty window. Exact (nearest rank) for windows with few
 * distinct values, within 1% of rank otherwise. Its codec is that of {@link quantiles} (`quantiles/1`).
 *
 * @example
 * ```ts
 * median((t: Ticket) => t.sla_hours)
 * ```
 */
export function median<In>(
  value: (input: In) => number,
  options: QuantileOptions = {},
): Aggregator<In, QuantileSketch, number | null> {
  return quantile(value, 0.5, options);
}
