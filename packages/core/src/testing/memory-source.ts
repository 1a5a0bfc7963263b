import { Observable, type SchedulerLike } from 'rxjs';
import type { InputRange, Positions, RecordChunk, Source, SourceContext } from '../source';

/** One step of a scripted source: records that arrive at a time. */
export interface SourceEvent<R> {
  /** When the records arrive, in ms from the moment the source is opened. Default 0. */
  readonly at?: number;
  /** The records. */
  readonly values: readonly R[];
  /** Their lane. Default `'memory'`. */
  readonly lane?: string;
}

/** Options of {@link memorySource}. */
export interface MemorySourceOptions {
  /** Plays the events on this scheduler's clock; without one, they are all emitted at once. */
  readonly scheduler?: SchedulerLike;
  /** When the source completes, in ms from opening. Default: right after the last event. */
  readonly completeAt?: number;
}

/** A {@link Source} over records held in memory, which remembers what the engine acknowledged. */
export interface MemorySource<R> extends Source<R> {
  /** Each acknowledged batch range, in order. */
  readonly acknowledged: readonly InputRange[];
  /** The positions of the last acknowledgement. */
  readonly positions: Positions;
  /** The context of the last `open`. */
  readonly lastContext: SourceContext | undefined;
}

/**
 * A source that plays scripted events: each event's values get consecutive offsets in their lane,
 * counting from 0 across the events of that lane. Offsets below the context's `startAt` are not
 * emitted, as a real source resuming from a checkpoint would.
 *
 * @example
 * ```ts
 * const source = memorySource([{ at: 0, values: ['a', 'b'] }, { at: 40_000, values: ['c'] }], { scheduler });
 * ```
 */
export function memorySource<R>(
  events: readonly SourceEvent<R>[],
  options: MemorySourceOptions = {},
): MemorySource<R> {
  const acknowledged: InputRange[] = [];
  let positions: Positions = {};
  let lastContext: SourceContext | undefined;
  const chunks: Array<{ at: number; chunk: RecordChunk<R> }> = [];
  const nextOffset = new Map<string, number>();
  for (const event of events) {
    const lane = event.lane ?? 'memory';
    const first = nextOffset.get(lane) ?? 0;
    nextOffset.set(lane, first + event.values.length);
    const offsets = event.values.map((_, i) => first + i);
    chunks.push({ at: event.at ?? 0, chunk: { lane, values: event.values, offsets } });
  }
  const endAt = options.completeAt ?? chunks.reduce((latest, { at }) => Math.max(latest, at), 0);

  return {
    name: 'memory',
    get acknowledged() {
      return acknowledged;
    },
    get positions() {
      return positions;
    },
    get lastContext() {
      return lastContext;
    },
    open(context) {
      lastContext = context;
      const visible = (chunk: RecordChunk<R>): RecordChunk<R> | undefined => {
        const floor = context.startAt[chunk.lane] ?? 0;
        const keep = chunk.values.flatMap((value, i) =>
          (chunk.offsets[i] as number) >= floor ? [{ value, offset: chunk.offsets[i] as number }] : [],
        );
        if (keep.length === 0) return undefined;
        return { lane: chunk.lane, values: keep.map((k) => k.value), offsets: keep.map((k) => k.offset) };
      };
      return new Observable<RecordChunk<R>>((subscriber) => {
        const scheduler = options.scheduler;
        if (scheduler === undefined) {
          for (const { chunk } of chunks) {
            if (context.signal.aborted) break;
            const shown = visible(chunk);
            if (shown) subscriber.next(shown);
          }
          subscriber.complete();
          return;
        }
        const actions = chunks.map(({ at, chunk }) =>
          scheduler.schedule(() => {
            const shown = visible(chunk);
            if (shown && !context.signal.aborted) subscriber.next(shown);
          }, at),
        );
        const end = scheduler.schedule(() => subscriber.complete(), endAt);
        const onAbort = () => subscriber.complete();
        context.signal.addEventListener('abort', onAbort, { once: true });
        return () => {
          for (const action of actions) action.unsubscribe();
          end.unsubscribe();
          context.signal.removeEventListener('abort', onAbort);
        };
      });
    },
    async acknowledge(range, next) {
      acknowledged.push(range);
      positions = next;
    },
  };
}
