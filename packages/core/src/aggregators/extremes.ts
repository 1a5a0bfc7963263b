import type { Aggregator } from '../aggregator';

function extreme<In>(
  value: (input: In) => number,
  better: (candidate: number, current: number) => boolean,
): Aggregator<In, { value: number | null }, number | null> {
  return {
    init: () => ({ value: null }),
    add: (acc, input) => {
      const v = value(input);
      if (Number.isFinite(v) && (acc.value === null || better(v, acc.value))) acc.value = v;
      return acc;
    },
    merge: (a, b) => {
      if (b.value !== null && (a.value === null || better(b.value, a.value))) a.value = b.value;
      return a;
    },
    result: (acc) => acc.value,
  };
}

/**
 * The smallest finite value of a numeric field; `null` for an empty window.
 *
 * @example
 * ```ts
 * min((t: Ticket) => t.created_at_ms)
 * ```
 */
export function min<In>(
  value: (input: In) => number,
): Aggregator<In, { value: number | null }, number | null> {
  return extreme(value, (candidate, current) => candidate < current);
}

/**
 * The largest finite value of a numeric field; `null` for an empty window.
 *
 * @example
 * ```ts
 * max((t: Ticket) => t.created_at_ms)
 * ```
 */
export function max<In>(
  value: (input: In) => number,
): Aggregator<In, { value: number | null }, number | null> {
  return extreme(value, (candidate, current) => candidate > current);
}
