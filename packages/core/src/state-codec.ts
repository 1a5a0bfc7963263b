import type { Aggregator, AnyAggregator, StateCodec, StateData } from './aggregator';
import { describeValue, InvalidOptionError, TicketflowError } from './errors';

/**
 * The codec of an aggregator whose state must leave memory (saved in a checkpoint, sent to another
 * process), or a one-line error naming what lacks one.
 *
 * A composite (`metrics`, `groupBy`, `mapResult`) has a codec exactly when all its members have one;
 * otherwise its {@link Aggregator.codecMissingAt} names the first member without one, and the message
 * names it too.
 *
 * @param aggregator - the aggregator whose state is to be saved
 * @param label - what the aggregator is to the reader, such as `the metrics of window "hourly"`; the
 *   message starts with it
 * @returns `aggregator.codec`
 * @throws InvalidOptionError when the aggregator has no codec, such as `the metrics of window "hourly"
 *   cannot be saved: member "p95" has no codec; give that aggregator a codec`.
 *
 * @example
 * ```ts
 * const spec = metrics({ total: count(), by_team: countBy((t: Ticket) => t.support_team) });
 * stateCodecOf(spec, 'the metrics of window "hourly"').id
 * // 'metrics/1(total:count/1,by_team:countBy/1)'
 * ```
 */
export function stateCodecOf<Acc>(
  // biome-ignore lint/suspicious/noExplicitAny: any input and result; only the accumulator matters
  aggregator: Aggregator<any, Acc, any>,
  label: string,
): StateCodec<Acc> {
  const codec = aggregator.codec;
  if (codec !== undefined) return codec;
  const path = aggregator.codecMissingAt;
  throw new InvalidOptionError(
    typeof path === 'string' && path !== ''
      ? `${label} cannot be saved: member "${path}" has no codec; give that aggregator a codec`
      : `${label} cannot be saved: the aggregator has no codec; give it a codec`,
  );
}

/**
 * An accumulator saved by {@link encodeState}: the data of its codec, tagged with the codec's id so
 * that a state saved by one aggregator is never read by another. JSON-safe, so it can be embedded in
 * any {@link StateData}.
 *
 * @example
 * ```ts
 * const saved: SavedState = { codec: 'count/1', state: 2 };
 * count().result(decodeState(count().codec!, saved)) // 2
 * ```
 */
export type SavedState = {
  /** The {@link StateCodec.id} of the codec that encoded `state`. */
  readonly codec: string;
  /** What {@link StateCodec.encode} returned. */
  readonly state: StateData;
};

/**
 * Encodes an accumulator with `codec` and tags it with the codec's id. Equal accumulators give
 * equal data, so `JSON.stringify` of the result gives the same bytes for the same inputs.
 *
 * @example
 * ```ts
 * const spec = metrics({ total: count() });
 * const saved = encodeState(spec.codec!, fold(spec, [ticket, ticket]));
 * saved // { codec: 'metrics/1(total:count/1)', state: [2] }
 * ```
 */
export function encodeState<Acc>(codec: StateCodec<Acc>, acc: Acc): SavedState {
  return { codec: codec.id, state: codec.encode(acc) };
}

/**
 * Rebuilds an accumulator from {@link encodeState}'s data (also after a `JSON.stringify`/`JSON.parse`
 * round trip). The accumulator is fresh: it shares nothing with `saved`.
 *
 * @param codec - the codec of the aggregator the state is restored into
 * @param saved - the saved state
 * @param label - what the state belongs to, such as `the metrics of window "hourly"`; messages start
 *   with it
 * @throws TicketflowError with code `INVALID_STATE` when `saved` is not a saved state, when it was
 *   saved under another codec id (the aggregator changed since the state was saved), or when the
 *   codec refuses its data.
 *
 * @example
 * ```ts
 * const spec = metrics({ total: count() });
 * const acc = decodeState(spec.codec!, { codec: 'metrics/1(total:count/1)', state: [2] });
 * spec.result(acc) // { total: 2 }
 * ```
 */
export function decodeState<Acc>(codec: StateCodec<Acc>, saved: StateData, label = 'the state'): Acc {
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) {
    throw new TicketflowError(
      'INVALID_STATE',
      `cannot restore ${label}: expected an object with "codec" and "state", got ${describeData(saved)}`,
    );
  }
  const { codec: id, state } = saved as { readonly codec?: StateData; readonly state?: StateData };
  if (typeof id !== 'string' || state === undefined) {
    throw new TicketflowError(
      'INVALID_STATE',
      `cannot restore ${label}: expected an object with "codec" and "state", got ${describeData(saved)}`,
    );
  }
  if (id !== codec.id) {
    throw new TicketflowError(
      'INVALID_STATE',
      `cannot restore ${label}: the aggregator changed since the state was saved (saved as ${id}, now ${codec.id})`,
    );
  }
  try {
    return codec.decode(state);
  } catch (error) {
    if (error instanceof TicketflowError && error.code === 'INVALID_STATE') {
      throw new TicketflowError('INVALID_STATE', `cannot restore ${label}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers of the built-in codecs. Exported for the aggregators' modules only (not from the package).
// ---------------------------------------------------------------------------------------------------

/**
 * The `INVALID_STATE` error of a built-in codec: `invalid <what> state[ at <where>]: <detail>`.
 * Composites rethrow a member's error with their part of the path prepended to `where`.
 *
 * @internal
 */
export class StateDecodeError extends TicketflowError {
  /** The codec that refused the data (`count/1`), or the composite's kind (`metrics`). */
  readonly what: string;
  /** The path from the outermost codec to the data refused, such as `by_team["Billing"].p95`. */
  readonly where: string;
  /** What was expected and what was found. */
  readonly detail: string;

  constructor(what: string, where: string, detail: string, cause?: unknown) {
    super('INVALID_STATE', `invalid ${what} state${where === '' ? '' : ` at ${where}`}: ${detail}`, {
      cause,
    });
    this.name = 'TicketflowError';
    this.what = what;
    this.where = where;
    this.detail = detail;
  }
}

/**
 * Throws a {@link StateDecodeError}: `data` is not what `what`'s codec expected.
 *
 * @internal
 */
export function refuseState(what: string, expected: string, data: unknown): never {
  throw new StateDecodeError(what, '', `expected ${expected}, got ${describeData(data)}`);
}

/**
 * Runs a member codec's `decode`, rethrowing its `INVALID_STATE` error with `segment` (a member name,
 * or `["key"]`) prepended to its path.
 *
 * @internal
 */
export function decodeMember<Acc>(codec: StateCodec<Acc>, data: StateData, segment: string): Acc {
  try {
    return codec.decode(data);
  } catch (error) {
    if (error instanceof StateDecodeError) {
      throw new StateDecodeError(error.what, joinPath(segment, error.where), error.detail, error);
    }
    if (error instanceof TicketflowError && error.code === 'INVALID_STATE') {
      throw new StateDecodeError(codec.id, segment, error.message, error);
    }
    throw error;
  }
}

/**
 * Joins two parts of a member path: `by_team` and `p95` give `by_team.p95`; `by_team` and `[key]`
 * give `by_team[key]`.
 *
 * @internal
 */
export function joinPath(head: string, tail: string): string {
  if (tail === '') return head;
  if (head === '') return tail;
  return tail.startsWith('[') ? `${head}${tail}` : `${head}.${tail}`;
}

/**
 * The member path segment of a group key in messages: `["Billing"]`, `[3]`.
 *
 * @internal
 */
export function keySegment(key: string | number): string {
  return `[${typeof key === 'number' ? String(key) : JSON.stringify(key)}]`;
}

/** A short, one-line rendering of a value for a message. */
function describeData(data: unknown): string {
  if (data === undefined) return 'undefined';
  let text: string;
  try {
    text =
      typeof data === 'number' && !Number.isFinite(data)
        ? String(data)
        : (JSON.stringify(data) ?? String(data));
  } catch {
    text = describeValue(data);
  }
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/**
 * Encodes a number JSON-safely and exactly: finite numbers as themselves, and `-0`, `NaN` and
 * `±Infinity` (which JSON cannot hold) as the strings `'-0'`, `'NaN'`, `'Infinity'`, `'-Infinity'`.
 *
 * @internal
 */
export function encodeNumber(value: number): number | string {
  if (Number.isFinite(value)) return Object.is(value, -0) ? '-0' : value;
  return String(value);
}

/**
 * Reverses {@link encodeNumber}; `undefined` when `data` is no such encoding.
 *
 * @internal
 */
export function decodeNumber(data: StateData): number | undefined {
  if (typeof data === 'number') return Number.isFinite(data) ? data : undefined;
  switch (data) {
    case '-0':
      return -0;
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Number.POSITIVE_INFINITY;
    case '-Infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return undefined;
  }
}

/**
 * Decodes a count: a non-negative safe integer; `undefined` otherwise.
 *
 * @internal
 */
export function decodeCount(data: StateData): number | undefined {
  return typeof data === 'number' && Number.isSafeInteger(data) && data >= 0 ? data : undefined;
}

/**
 * Encodes a group key: a string as itself, a finite number as itself, and a non-finite one as
 * `{ "number": "NaN" }` (so that it cannot be taken for a string key).
 *
 * @internal
 */
export function encodeKey(key: string | number, what: string): StateData {
  if (typeof key === 'string') return key;
  if (typeof key === 'number') return Number.isFinite(key) ? key : { number: String(key) };
  throw new TicketflowError(
    'INVALID_STATE',
    `cannot encode a ${what} state: a key must be a string or a number, got ${describeData(key)}`,
  );
}

/**
 * Reverses {@link encodeKey}; `undefined` when `data` is no such encoding.
 *
 * @internal
 */
export function decodeKey(data: StateData): string | number | undefined {
  if (typeof data === 'string') return data;
  if (typeof data === 'number') return Number.isFinite(data) ? data : undefined;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const keys = Object.keys(data);
    const tag = (data as { readonly number?: StateData }).number;
    if (keys.length === 1 && (tag === 'NaN' || tag === 'Infinity' || tag === '-Infinity')) return Number(tag);
  }
  return undefined;
}

/**
 * The order of group keys, in `countBy` and `groupBy` results and in their encoded states: for keys
 * all strings or all finite numbers, numbers numerically and strings by UTF-16 code units; and a
 * total order for any mix (numbers first, `NaN` last among them, then strings), so
 * that equal maps give equal results and equal bytes whatever their insertion order.
 *
 * @internal
 */
export function compareGroupKeys(a: string | number, b: string | number): number {
  if (typeof a === 'number') {
    if (typeof b !== 'number') return -1;
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  }
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Encodes a keyed map as `[[key, value], ...]`, ascending by {@link compareGroupKeys}.
 *
 * @internal
 */
export function encodeEntries<K extends string | number, V>(
  map: ReadonlyMap<K, V>,
  encodeValue: (value: V) => StateData,
  what: string,
): StateData[] {
  const keys = [...map.keys()].sort(compareGroupKeys);
  return keys.map((k) => [encodeKey(k, what), encodeValue(map.get(k) as V)]);
}

/**
 * Decodes {@link encodeEntries}'s data into a fresh map, refusing anything but pairs of a key and a
 * value in strictly ascending key order.
 *
 * @internal
 */
export function decodeEntries<K extends string | number, V>(
  data: StateData,
  decodeValue: (value: StateData, key: K) => V,
  what: string,
  expected: string,
): Map<K, V> {
  if (!Array.isArray(data)) refuseState(what, `an array of ${expected}`, data);
  const map = new Map<K, V>();
  let previous: string | number | undefined;
  for (const entry of data as readonly StateData[]) {
    if (!Array.isArray(entry) || entry.length !== 2) refuseState(what, expected, entry);
    const rawKey = (entry as readonly StateData[])[0] as StateData;
    const rawValue = (entry as readonly StateData[])[1] as StateData;
    const key = decodeKey(rawKey);
    if (key === undefined) refuseState(what, 'a key (a string or a number)', rawKey);
    if (previous !== undefined && compareGroupKeys(previous, key) >= 0) {
      refuseState(what, 'keys in strictly ascending order', rawKey);
    }
    previous = key;
    map.set(key as K, decodeValue(rawValue, key as K));
  }
  return map;
}

/**
 * The id of a composite codec: `kind/version(part,part,...)`.
 *
 * @internal
 */
export function compositeId(kindVersion: string, parts: readonly string[]): string {
  return `${kindVersion}(${parts.join(',')})`;
}

/**
 * The path of the first member without a codec of a composite, or `undefined` when all have one.
 *
 * @internal
 */
export function firstMissingCodec(
  members: readonly (readonly [string, AnyAggregator])[],
): string | undefined {
  for (const [segment, member] of members) {
    if (member.codec === undefined) return joinPath(segment, member.codecMissingAt ?? '');
  }
  return undefined;
}
