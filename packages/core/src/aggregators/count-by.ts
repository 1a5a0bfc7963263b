import type { Aggregator } from '../aggregator';
import { compareKeys } from '../internal/compare-keys';

/** One row of {@link countBy}'s result. */
export interface KeyCount<K> {
  /** The key. */
  readonly key: K;
  /** How many inputs had it. */
  readonly count: number;
}

/**
 * Counts inputs per key. The result lists only keys that occurred, ascending (numbers numerically,
 * strings by code unit). Memory grows with the number of distinct keys, not with the inputs.
 *
 * @example
 * ```ts
 * countBy((t: Ticket) => t.priority) // result: [{ key: 'high', count: 3 }, { key: 'low', count: 5 }]
 * ```
 */
export function countBy<In, K extends string | number>(
  key: (input: In) => K,
): Aggregator<In, Map<K, number>, KeyCount<K>[]> {
  return {
    init: () => new Map<K, number>(),
    add: (acc, input) => {
      const k = key(input);
      acc.set(k, (acc.get(k) ?? 0) + 1);
      return acc;
    },
    merge: (a, b) => {
      for (const [k, n] of b) a.set(k, (a.get(k) ?? 0) + n);
      return a;
    },
    result: (acc) => [...acc.keys()].sort(compareKeys).map((k) => ({ key: k, count: acc.get(k) as number })),
  };
}
