import type { Aggregator, StateCodec } from '../aggregator';
import { compareGroupKeys, decodeEntries, encodeEntries, keySegment, refuseState } from '../state-codec';

const ID = 'countBy/1';

/**
 * `countBy/1`: `[[key, count], ...]`, ascending by key; keys keep their type (string or number).
 * Shared by every countBy, whatever its key type: decoding cannot check the keys' type against `K`.
 */
// biome-ignore lint/suspicious/noExplicitAny: one codec object for every key type
const countByCodec: StateCodec<Map<any, number>> = {
  id: ID,
  encode: (acc) => encodeEntries(acc, (n) => n, ID),
  decode: (data) =>
    decodeEntries(
      data,
      (n, key) =>
        typeof n === 'number' && Number.isSafeInteger(n) && n > 0
          ? n
          : refuseState(ID, `a positive integer count for key ${keySegment(key)}`, n),
      ID,
      '[key, count] pairs',
    ),
};

/** One row of {@link countBy}'s result. */
export interface KeyCount<K> {
  /** The key. */
  readonly key: K;
  /** How many inputs had it. */
  readonly count: number;
}

/**
 * Counts inputs per key. The result lists only keys that occurred, ascending (numbers numerically,
 * strings by code unit, numbers before strings). Memory grows with the number of distinct keys, not
 * with the inputs. Its codec (`countBy/1`) saves `[[key, count], ...]`, ascending by key, each key a
 * string or a number as it was.
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
    result: (acc) =>
      [...acc.keys()].sort(compareGroupKeys).map((k) => ({ key: k, count: acc.get(k) as number })),
    codec: countByCodec as StateCodec<Map<K, number>>,
  };
}
