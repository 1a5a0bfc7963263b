import type { Aggregator, StateCodec } from '../aggregator';
import {
  compareGroupKeys,
  compositeId,
  decodeEntries,
  decodeMember,
  encodeEntries,
  joinPath,
  keySegment,
} from '../state-codec';

/**
 * `groupBy/1(<inner id>)`: `[[key, inner state], ...]`, ascending by key; keys keep their type
 * (string or number).
 */
function groupByCodec<K extends string | number, Acc>(inner: StateCodec<Acc>): StateCodec<Map<K, Acc>> {
  const id = compositeId('groupBy/1', [inner.id]);
  return {
    id,
    encode: (acc) => encodeEntries(acc, (partial) => inner.encode(partial), 'groupBy'),
    decode: (data) =>
      decodeEntries<K, Acc>(
        data,
        (partial, key) => decodeMember(inner, partial, keySegment(key)),
        'groupBy',
        '[key, state] pairs',
      ),
  };
}

/** One row of {@link groupBy}'s result. */
export interface KeyValue<K, V> {
  /** The group's key. */
  readonly key: K;
  /** The inner aggregator's result for the group. */
  readonly value: V;
}

/**
 * Runs an aggregator per key. The result lists only keys that occurred, ascending (numbers
 * numerically, strings by code unit, numbers before strings). Memory grows with the number of
 * distinct keys times the inner accumulator's size.
 *
 * Its codec (`groupBy/1(<inner id>)`, such as `groupBy/1(mean/1)`) saves `[[key, inner state], ...]`,
 * ascending by key, each key a string or a number as it was. Without an inner codec there is none, and
 * {@link Aggregator.codecMissingAt} is `[key]` followed by the inner's own path.
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
  const codec = inner.codec === undefined ? undefined : groupByCodec<K, Acc>(inner.codec);
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
      [...acc.keys()].sort(compareGroupKeys).map((k) => ({ key: k, value: inner.result(acc.get(k) as Acc) })),
    codec,
    codecMissingAt: codec === undefined ? joinPath('[key]', inner.codecMissingAt ?? '') : undefined,
  };
}
