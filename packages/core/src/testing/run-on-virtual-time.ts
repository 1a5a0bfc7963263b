import { VirtualTimeScheduler } from 'rxjs';
import type { Batch } from '../batch';
import type { DeadLetter } from '../dead-letter';
import { createPipeline, type PipelineOptions } from '../pipeline';
import type { BatchProgress, RunSummary } from '../progress';
import type { InputRange } from '../source';
import { memorySink } from './memory-sink';
import { memorySource, type SourceEvent } from './memory-source';

/** Options of {@link runOnVirtualTime}: a pipeline's options without source, sink and scheduler. */
export interface VirtualRunOptions<R, T, Acc, M>
  extends Omit<PipelineOptions<R, T, Acc, M>, 'source' | 'sink' | 'scheduler' | 'deadLetters'> {
  /** The records and when they arrive, in virtual ms from the start. */
  readonly events: readonly SourceEvent<R>[];
  /** When the source completes, in virtual ms. Default: right after the last event. */
  readonly completeAt?: number;
}

/** What {@link runOnVirtualTime} observed. */
export interface VirtualRunResult<R, M> {
  /** The run's totals. */
  readonly summary: RunSummary;
  /** Every batch the sink received. */
  readonly batches: readonly Batch<M>[];
  /** Every progress event. */
  readonly progress: readonly BatchProgress[];
  /** Every acknowledged range, in order. */
  readonly acknowledged: readonly InputRange[];
  /** Every invalid record. */
  readonly deadLetters: readonly DeadLetter<R>[];
}

/**
 * Runs a pipeline over scripted events on virtual time: a 30 s window takes no real time, and window
 * boundaries are exact, so tests of windowing are fast and repeatable.
 *
 * @example
 * ```ts
 * const { batches } = await runOnVirtualTime({
 *   events: [{ at: 1_000, values: [1, 2] }, { at: 45_000, values: [3] }],
 *   metrics: metrics({ total: count() }),
 *   window: { span: '30s' },
 * });
 * // batches[0].metrics.total === 2, batches[1].metrics.total === 1
 * ```
 */
export async function runOnVirtualTime<R, T, Acc, M>(
  options: VirtualRunOptions<R, T, Acc, M>,
): Promise<VirtualRunResult<R, M>> {
  const scheduler = new VirtualTimeScheduler();
  const source = memorySource(options.events, {
    scheduler,
    ...(options.completeAt !== undefined ? { completeAt: options.completeAt } : {}),
  });
  const sink = memorySink<M>();
  const deadLetters: DeadLetter<R>[] = [];
  const { events: _events, completeAt: _completeAt, ...pipelineOptions } = options;
  const pipeline = createPipeline<R, T, Acc, M>({
    ...pipelineOptions,
    source: {
      name: source.name,
      acknowledge: (range, positions) => source.acknowledge(range, positions),
      open: (context) => {
        const chunks = source.open(context);
        // The engine subscribes synchronously after open; virtual time runs once it has.
        queueMicrotask(() => scheduler.flush());
        return chunks;
      },
    },
    sink,
    scheduler,
    deadLetters: { write: (letter) => deadLetters.push(letter), flush: async () => {} },
  });
  const progress: BatchProgress[] = [];
  pipeline.progress$.subscribe((event) => progress.push(event));
  const summary = await pipeline.run();
  return { summary, batches: sink.batches, progress, acknowledged: source.acknowledged, deadLetters };
}
