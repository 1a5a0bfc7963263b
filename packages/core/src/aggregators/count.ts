import type { Aggregator } from '../aggregator';

/**
 * Counts inputs, or only those that match `where`.
 *
 * @example
 * ```ts
 * const spec = metrics({ total: count(), critical: count((t: Ticket) => t.priority === 'critical') });
 * ```
 */
export function count<In = unknown>(where?: (input: In) => boolean): Aggregator<In, number, number> {
  return {
    init: () => 0,
    add: where === undefined ? (acc) => acc + 1 : (acc, input) => (where(input) ? acc + 1 : acc),
    merge: (a, b) => a + b,
    result: (acc) => acc,
  };
}
