import type { Aggregator, StateCodec } from '../aggregator';
import { decodeNumber, encodeNumber, refuseState } from '../state-codec';

const ID = 'sum/1';

/** `sum/1`: the total as a number (`'Infinity'`, `'-Infinity'` or `'NaN'` once it overflowed). */
const sumCodec: StateCodec<{ total: number }> = {
  id: ID,
  encode: (acc) => encodeNumber(acc.total),
  decode: (data) => ({ total: decodeNumber(data) ?? refuseState(ID, 'a total (a number)', data) }),
};

/**
 * Sums a numeric field. Non-finite values (NaN, ±Infinity) are skipped. An empty window sums to 0.
 * Its codec (`sum/1`) saves the total as a number.
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
    codec: sumCodec,
  };
}
