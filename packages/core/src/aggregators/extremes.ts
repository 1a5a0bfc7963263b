import type { Aggregator, StateCodec } from '../aggregator';
import { decodeNumber, encodeNumber, refuseState } from '../state-codec';

/** `min/1` and `max/1`: the value, or `null` for an empty window (`'-0'` for negative zero). */
function extremeCodec(id: string): StateCodec<{ value: number | null }> {
  return {
    id,
    encode: (acc) => (acc.value === null ? null : encodeNumber(acc.value)),
    decode: (data) => {
      if (data === null) return { value: null };
      const value = decodeNumber(data);
      if (value === undefined || !Number.isFinite(value)) {
        return refuseState(id, 'a finite number, or null for an empty window', data);
      }
      return { value };
    },
  };
}

const minCodec = extremeCodec('min/1');
const maxCodec = extremeCodec('max/1');

function extreme<In>(
  value: (input: In) => number,
  better: (candidate: number, current: number) => boolean,
  codec: StateCodec<{ value: number | null }>,
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
    codec,
  };
}

/**
 * The smallest finite value of a numeric field; `null` for an empty window. Its codec (`min/1`)
 * saves the value, or `null`.
 *
 * @example
 * ```ts
 * min((t: Ticket) => t.created_at_ms)
 * ```
 */
export function min<In>(
  value: (input: In) => number,
): Aggregator<In, { value: number | null }, number | null> {
  return extreme(value, (candidate, current) => candidate < current, minCodec);
}

/**
 * The largest finite value of a numeric field; `null` for an empty window. Its codec (`max/1`)
 * saves the value, or `null`.
 *
 * @example
 * ```ts
 * max((t: Ticket) => t.created_at_ms)
 * ```
 */
export function max<In>(
  value: (input: In) => number,
): Aggregator<In, { value: number | null }, number | null> {
  return extreme(value, (candidate, current) => candidate > current, maxCodec);
}
