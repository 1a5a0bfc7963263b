import type { Aggregator, StateCodec } from '../aggregator';
import { decodeCount, refuseState } from '../state-codec';

const ID = 'count/1';

/** `count/1`: the count itself, a non-negative integer. */
const countCodec: StateCodec<number> = {
  id: ID,
  encode: (acc) => acc,
  decode: (data) => decodeCount(data) ?? refuseState(ID, 'a count (a non-negative integer)', data),
};

/**
 * Counts inputs, or only those that match `where`. Its codec (`count/1`) saves the count as a number.
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
    codec: countCodec,
  };
}
