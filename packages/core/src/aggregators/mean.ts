import type { Aggregator, StateCodec } from '../aggregator';
import { decodeCount, decodeNumber, encodeNumber, refuseState } from '../state-codec';

/** The accumulator of {@link mean}. */
export interface MeanState {
  /** Sum of the finite values seen. */
  total: number;
  /** How many finite values were seen. */
  count: number;
}

const ID = 'mean/1';
const EXPECTED =
  'a mean state ([total, count]: a number and a non-negative integer, total 0 when count is 0)';

/** `mean/1`: `[total, count]`. */
const meanCodec: StateCodec<MeanState> = {
  id: ID,
  encode: (acc) => [encodeNumber(acc.total), acc.count],
  decode: (data) => {
    if (!Array.isArray(data) || data.length !== 2) return refuseState(ID, EXPECTED, data);
    const total = decodeNumber(data[0]);
    const count = decodeCount(data[1]);
    if (total === undefined || count === undefined || (count === 0 && !Object.is(total, 0))) {
      return refuseState(ID, EXPECTED, data);
    }
    return { total, count };
  },
};

/**
 * The arithmetic mean of a numeric field; `null` for a window with no finite value. Non-finite values
 * are skipped. Its codec (`mean/1`) saves `[total, count]`.
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
    codec: meanCodec,
  };
}
