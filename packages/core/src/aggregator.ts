/**
 * A mergeable fold: the building block of every metric.
 *
 * An aggregator never holds state itself. `init` creates a fresh accumulator for each window (so two
 * windows never share one mutable sketch), `add` folds one input into it, `merge` combines two partial
 * accumulators (windows of different lanes or processes), and `result` reads the final value.
 *
 * Laws every aggregator keeps: `result(merge(fold(a), fold(b)))` equals `result(fold(a ++ b))` (exactly
 * for counts, within the documented tolerance for sketches), and folding the same inputs in the same
 * order always gives the same result.
 *
 * @typeParam In - the record type folded in
 * @typeParam Acc - the accumulator
 * @typeParam Out - the value read at the end of a window
 */
export interface Aggregator<In, Acc, Out> {
  /** Creates a fresh, empty accumulator. */
  init(): Acc;
  /** Folds one input into `acc`. May mutate `acc`; returns the accumulator to keep. */
  add(acc: Acc, input: In): Acc;
  /** Combines `b` into `a`. May mutate `a` (never `b`); returns the combined accumulator. */
  merge(a: Acc, b: Acc): Acc;
  /** Reads the value of `acc` without changing it. */
  result(acc: Acc): Out;
  /**
   * Turns an accumulator into data and back, so that state can be saved (open event-time windows in a
   * checkpoint), sent (partial aggregation across processes) and merged elsewhere. Every built-in
   * aggregator has one; a user-written aggregator supplies its own where state must leave memory, and
   * the engine names the one that is missing when it needs it.
   */
  readonly codec?: StateCodec<Acc>;
  /**
   * Set by a composite (`metrics`, `groupBy`, `mapResult`) that has no {@link Aggregator.codec}
   * because a member lacks one: the path of the first such member, in spec order. Member names are
   * joined by `.`, and `[key]` stands for a `groupBy`'s per-key aggregator: `p95`,
   * `by_team[key].p95`, `[key]`. `stateCodecOf` names it in its error.
   */
  readonly codecMissingAt?: string;
}

/** A JSON-safe value: what a {@link StateCodec} encodes an accumulator to. */
export type StateData =
  | null
  | boolean
  | number
  | string
  | readonly StateData[]
  | { readonly [key: string]: StateData };

/**
 * The saved form of an accumulator: compact, versioned, deterministic, JSON-safe.
 *
 * Laws: `decode(encode(a))` behaves as `a` under `add`, `merge` and `result`;
 * `merge(decode(encode(fold(x))), fold(y))` equals `fold(x ++ y)`; and the same accumulator always
 * encodes to the same data, so `JSON.stringify(encode(a))` gives the same bytes for the same input.
 */
export interface StateCodec<Acc> {
  /**
   * Names the encoded form and its version, such as `count/1` or `metrics/1(total:count/1,…)`. A state
   * saved under another id is refused when decoded (the aggregator changed between runs).
   */
  readonly id: string;
  /** Encodes an accumulator without changing it. */
  encode(acc: Acc): StateData;
  /**
   * Rebuilds an accumulator from {@link StateCodec.encode}'s data. Throws a `TicketflowError` with code
   * `INVALID_STATE` when the data is not such a state.
   */
  decode(data: StateData): Acc;
}

/** Any aggregator, whatever its types. */
// biome-ignore lint/suspicious/noExplicitAny: the widest aggregator type, used only as a constraint
export type AnyAggregator = Aggregator<any, any, any>;

/** The input type of an aggregator. */
export type InputOf<A> = A extends Aggregator<infer In, unknown, unknown> ? In : never;

/** The accumulator type of an aggregator. */
export type AccumulatorOf<A> = A extends Aggregator<never, infer Acc, unknown> ? Acc : never;

/** The result type of an aggregator. */
export type ResultOf<A> = A extends Aggregator<never, unknown, infer Out> ? Out : never;

/** Folds every input of an iterable into a fresh accumulator: handy in tests and one-off reports. */
export function fold<In, Acc, Out>(aggregator: Aggregator<In, Acc, Out>, inputs: Iterable<In>): Acc {
  let acc = aggregator.init();
  for (const input of inputs) acc = aggregator.add(acc, input);
  return acc;
}

/**
 * Reshapes an aggregator's result, keeping its accumulator: use it to rename fields for an output
 * contract. The state is the inner aggregator's, so is its codec (same id): a state saved before the
 * reshaping is read after it.
 *
 * @example
 * ```ts
 * const perHour = mapResult(countBy((t: Ticket) => t.event_hour), (rows) =>
 *   rows.map(({ key, count }) => ({ hour: key, tickets_per_hour: count })),
 * );
 * ```
 */
export function mapResult<In, Acc, Out, Mapped>(
  aggregator: Aggregator<In, Acc, Out>,
  mapper: (value: Out) => Mapped,
): Aggregator<In, Acc, Mapped> {
  return {
    init: aggregator.init,
    add: aggregator.add,
    merge: aggregator.merge,
    result: (acc) => mapper(aggregator.result(acc)),
    codec: aggregator.codec,
    codecMissingAt: aggregator.codecMissingAt,
  };
}
