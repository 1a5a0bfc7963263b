import type { Aggregator } from '../aggregator';
import { InvalidOptionError } from '../errors';
import { QuantileSketch, type QuantileSketchOptions } from '../internal/quantile-sketch';

/** Options of the quantile aggregators. */
export type QuantileOptions = QuantileSketchOptions;

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
  };
}

/**
 * One quantile of a numeric field; `null` for an empty window. See {@link quantiles} for accuracy.
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
  };
}

/**
 * The median of a numeric field; `null` for an empty window. Exact (nearest rank) for windows with few
 * distinct values, within 1% of rank otherwise.
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
