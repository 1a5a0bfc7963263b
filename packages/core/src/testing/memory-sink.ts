import type { Batch, Sink } from '../batch';

/** A {@link Sink} that keeps every batch in memory. */
export interface MemorySink<M> extends Sink<M> {
  /** Every batch written, in order (a rewritten batch appears again). */
  readonly batches: readonly Batch<M>[];
}

/**
 * A sink that keeps batches in memory, for tests. With `failOn`, writing those batch ids throws, to
 * exercise crash and replay paths.
 *
 * @example
 * ```ts
 * const sink = memorySink<{ total: number }>();
 * await createPipeline({ source, metrics: metrics({ total: count() }), sink }).run();
 * sink.batches[0]?.metrics.total;
 * ```
 */
export function memorySink<M>(options: { readonly failOn?: ReadonlySet<number> } = {}): MemorySink<M> {
  const batches: Batch<M>[] = [];
  return {
    batches,
    async write(batch) {
      if (options.failOn?.has(batch.batchId)) throw new Error(`memory sink refuses batch ${batch.batchId}`);
      batches.push(batch);
    },
    describe: (batchId) => `memory:${batchId}`,
  };
}
