import type { Aggregator } from '../aggregator';

/** The accumulator of {@link mean}. */
export interface MeanState {
  /** Sum of the finite values seen. */
  total: number;
  /** How many finite values were seen. */
  count: number;
}

/**
 * The arithmetic mean of a numeric field; `null` for a window with no finite value. Non-finite values
 * are skipped.
 *
 * @example
 * ```ts
 * mean((t: Ticket) => t.sla_hours)
 * ```
 */
export function mean<In>(value: (input: In) => number): Aggregator<In, MeanState, number | null> {
  return {
    init: () => ({ total: 0, count: 0 }),
    add: (acc, input) => {
      const v = value(input);
      if (Number.isFinite(v)) {
        acc.total += v;
        acc.count += 1;
      }
      return acc;
    },
    merge: (a, b) => {
      a.total += b.total;
      a.count += b.count;
      return a;
    },
    result: (acc) => (acc.count === 0 ? null : acc.total / acc.count),
  };
}
