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
 * contract.
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
  };
}
