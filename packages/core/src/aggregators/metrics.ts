import type { Aggregator, AnyAggregator, StateCodec } from '../aggregator';
import { compositeId, decodeMember, firstMissingCodec, refuseState } from '../state-codec';

type UnionToIntersection<U> = (U extends unknown ? (arg: U) => void : never) extends (arg: infer I) => void
  ? I
  : never;

// biome-ignore lint/suspicious/noExplicitAny: pattern matching on any accumulator
type InputOfAny<A> = A extends Aggregator<infer In, any, any> ? In : never;
// biome-ignore lint/suspicious/noExplicitAny: pattern matching on any accumulator
type ResultOfAny<A> = A extends Aggregator<any, any, infer Out> ? Out : never;

/** The record type a metrics spec accepts: every member's input at once. */
export type MetricsInput<S extends Record<string, AnyAggregator>> = UnionToIntersection<
  { [K in keyof S]: InputOfAny<S[K]> }[keyof S]
>;

/** The result of a metrics spec: one field per named aggregator, each with its own result type. */
export type MetricsResult<S extends Record<string, AnyAggregator>> = {
  -readonly [K in keyof S]: ResultOfAny<S[K]>;
};

type AddFunction = (acc: unknown[], input: unknown) => unknown[];

/**
 * Builds `add` with one call site per member instead of a loop: each site then sees a single function,
 * which the JIT can inline, where a loop's shared site sees them all and cannot. The generated source
 * holds only indices; the members themselves are passed in as arguments.
 */
function unrolledAdd(members: readonly AnyAggregator[]): AddFunction {
  const params = members.map((_, i) => `m${i}`);
  const body = members.map((_, i) => `acc[${i}] = m${i}.add(acc[${i}], input);`).join('\n');
  const factory = new Function(...params, `return function add(acc, input) {\n${body}\nreturn acc;\n};`);
  return factory(...members) as AddFunction;
}

/** A member name in a codec id: as it is, or JSON-quoted when it holds a character of the id's syntax. */
function idName(name: string): string {
  return name === '' || /[,:()"\\\s]/.test(name) ? JSON.stringify(name) : name;
}

/** `metrics/1(name:id,...)`: an array of the members' states, in spec order. */
function metricsCodec(
  names: readonly string[],
  codecs: readonly StateCodec<unknown>[],
): StateCodec<unknown[]> {
  const id = compositeId(
    'metrics/1',
    codecs.map((codec, i) => `${idName(names[i] as string)}:${codec.id}`),
  );
  const size = codecs.length;
  const expected = `an array of ${size} member ${size === 1 ? 'state' : 'states'}`;
  return {
    id,
    encode: (acc) => codecs.map((codec, i) => codec.encode(acc[i])),
    decode: (data) => {
      if (!Array.isArray(data) || data.length !== size) return refuseState('metrics', expected, data);
      return codecs.map((codec, i) => decodeMember(codec, data[i], names[i] as string));
    },
  };
}

/**
 * Composes named aggregators into one. Each input is folded into every member; the result is an object
 * with the members' results under their names, in the spec's order, and its type is inferred.
 *
 * Its codec, when every member has one, saves an array of the members' states in spec order; its id
 * names each member and its codec's id, such as `metrics/1(total:count/1,by_team:countBy/1)`, so that
 * a state saved before a member was added, removed, renamed, reordered or changed is refused. When a
 * member has no codec there is none, and {@link Aggregator.codecMissingAt} names the first such member.
 *
 * @example
 * ```ts
 * const spec = metrics({
 *   total_tickets: count(),
 *   by_priority: countBy((t: Ticket) => t.priority),
 *   sla_median: median((t: Ticket) => t.sla_hours),
 * });
 * // Aggregator<Ticket, unknown[], { total_tickets: number; by_priority: KeyCount<string>[]; sla_median: number | null }>
 * ```
 */
export function metrics<const S extends Record<string, AnyAggregator>>(
  spec: S,
): Aggregator<MetricsInput<S>, unknown[], MetricsResult<S>> {
  const names = Object.keys(spec);
  const members = names.map((name) => spec[name] as AnyAggregator);
  const size = members.length;
  const missing = firstMissingCodec(names.map((name, i) => [name, members[i] as AnyAggregator] as const));
  const codec =
    missing === undefined
      ? metricsCodec(
          names,
          members.map((member) => member.codec as StateCodec<unknown>),
        )
      : undefined;
  return {
    init: () => members.map((member) => member.init()),
    add: unrolledAdd(members),
    merge: (a, b) => {
      for (let i = 0; i < size; i++) a[i] = (members[i] as AnyAggregator).merge(a[i], b[i]);
      return a;
    },
    result: (acc) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < size; i++) out[names[i] as string] = (members[i] as AnyAggregator).result(acc[i]);
      return out as MetricsResult<S>;
    },
    codec,
    codecMissingAt: missing,
  };
}
