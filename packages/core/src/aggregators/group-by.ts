import type { Aggregator } from '../aggregator';
import { compareKeys } from '../internal/compare-keys';

/** One row of {@link groupBy}'s result. */
export interface KeyValue<K, V> {
  /** The group's key. */
  readonly key: K;
  /** The inner aggregator's result for the group. */
  readonly value: V;
}

/**
 * Runs an aggregator per key. The result lists only keys that occurred, ascending. Memory grows with
 * the number of distinct keys times the inner accumulator's size.
 *
 * @example
 * ```ts
 * groupBy((t: Ticket) => t.support_team, mean((t: Ticket) => t.sla_hours))
 * // result: [{ key: 'Billing Team', value: 24.5 }, ...]
 * ```
 */
export function groupBy<In, K extends string | number, Acc, Out>(
  key: (input: In) => K,
  inner: Aggregator<In, Acc, Out>,
): Aggregator<In, Map<K, Acc>, KeyValue<K, Out>[]> {
  return {
    init: () => new Map<K, Acc>(),
    add: (acc, input) => {
      const k = key(input);
      const current = acc.get(k);
      const next = inner.add(current === undefined ? inner.init() : current, input);
      if (next !== current) acc.set(k, next);
      return acc;
    },
    merge: (a, b) => {
      for (const [k, partial] of b) {
        const current = a.get(k);
        // The inner merge may mutate its first argument, so a key only in `b` is merged into a fresh one.
        a.set(k, inner.merge(current === undefined ? inner.init() : current, partial));
      }
      return a;
    },
    result: (acc) =>
      [...acc.keys()].sort(compareKeys).map((k) => ({ key: k, value: inner.result(acc.get(k) as Acc) })),
  };
}
