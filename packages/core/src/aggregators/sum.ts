import type { Aggregator } from '../aggregator';

/**
 * Sums a numeric field. Non-finite values (NaN, ±Infinity) are skipped. An empty window sums to 0.
 *
 * @example
 * ```ts
 * sum((t: Ticket) => t.priority_score)
 * ```
 */
export function sum<In>(value: (input: In) => number): Aggregator<In, { total: number }, number> {
  return {
    init: () => ({ total: 0 }),
    add: (acc, input) => {
      const v = value(input);
      if (Number.isFinite(v)) acc.total += v;
      return acc;
    },
    merge: (a, b) => {
      a.total += b.total;
      return a;
    },
    result: (acc) => acc.total,
  };
}
