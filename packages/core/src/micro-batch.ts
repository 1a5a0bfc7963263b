import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Aggregator } from './aggregator';
import type { DeadLetter } from './dead-letter';
import { type Duration, toMilliseconds } from './duration';
import { InvalidOptionError } from './errors';
import type { EventTimeOptions, EventTimeState, FinalWindow } from './event-time';
import { type DecodedEvent, type DecodedRecords, decodeRecords, REFUSED } from './internal/decode-records';
import { EventTimeWindows, eventTimeSettings, type LanePartial } from './internal/event-time-windows';
import { type FoldedRecords, type ParallelEvent, parallelFold } from './internal/parallel-fold';
import { recover } from './internal/recovery';
import type { PartialAggregate, PartialEventTime } from './partial';
import type { Step } from './rejection';
import type { DataGap, InputRange, OffsetRange, Positions, RecordChunk } from './source';
import { decodeState, stateCodecOf } from './state-codec';
import type { WorkerOptions } from './workers';

/** A window to rebuild exactly: the recorded plan of a batch that was not committed before a crash. */
export interface ReplayWindow {
  /** The input the window covered; the replay closes once every lane has reached its `to`. */
  readonly range: InputRange;
  /** The original window's opening time, ms since the epoch. */
  readonly windowStart: number;
  /** The original window's closing time, ms since the epoch. */
  readonly windowEnd: number;
  /**
   * The event-time watermark recorded after the original batch (`null`: none yet); the replay uses it
   * instead of computing one, so it finalizes the same windows. Absent without event-time windows.
   */
  readonly watermark?: number | null;
}

/** Options of {@link microBatch}. */
export interface MicroBatchOptions<R, T, Acc> {
  /** Folds each valid record. Its `init` is called once per window and lane. */
  readonly aggregator: Aggregator<T, Acc, unknown>;
  /**
   * Parses, validates and transforms a raw record; a {@link Rejection} counts it as invalid. A step that
   * throws refuses that record alone, with the error's message as the reason. Default: identity.
   */
  readonly decode?: Step<R, T>;
  /** Called for each invalid record, synchronously, in order. */
  readonly onRejected?: (letter: DeadLetter<R>) => void;
  /** Window length: a processing-time span. Default `'30s'`. */
  readonly span?: Duration;
  /** Closes a window early once it holds this many records (valid and invalid). Default: no limit. */
  readonly maxRecords?: number;
  /** Decides the time; pass a virtual-time scheduler in tests. Default: RxJS `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Records below these offsets were already committed and are dropped. Default: none. */
  readonly skipBefore?: Positions;
  /** A batch to rebuild first, over exactly its recorded range. Default: none. */
  readonly replay?: ReplayWindow;
  /**
   * Each emission closes the open window at once (when it holds records); an emitted function is then
   * called, once the batch it closed was emitted.
   */
  readonly flushRequests?: Observable<unknown>;
  /** Event-time windows kept open across micro-batches (see {@link EventTimeOptions}). Default: none. */
  readonly eventTime?: EventTimeOptions<T>;
  /** The event-time state saved with the last committed batch, to resume from. Default: none. */
  readonly eventTimeState?: EventTimeState;
  /**
   * Aborted when the run is asked to stop: the source's completion is then a stop, not the end of the
   * input, and event-time windows stay open (saved for the next run). Default: every completion is
   * the end of the input.
   */
  readonly stopped?: AbortSignal;
  /**
   * `'final'` (default): records folded, windows made final here. `'partial'`: records folded, each
   * batch carries its event-time contributions ({@link WindowBatch.partialEventTime}) and no window is
   * kept or made final. `'merge'`: the decoded values are {@link PartialAggregate}s, merged into the
   * batch (which counts their records) and their contributions into the windows.
   */
  readonly stage?: 'final' | 'partial' | 'merge';
  /**
   * Decode and fold on worker threads (see {@link WorkerOptions}); `decode`, `aggregator` and `eventTime`
   * must be built by the same fold module. Not in the merge stage. Default: on this thread.
   */
  readonly workers?: WorkerOptions<R>;
  /** With `workers`: told `true` when records wait for a worker thread and the source should pause. */
  readonly onPressure?: (paused: boolean) => void;
}

/** What a micro-batch decided about event time (present only with event-time windows). */
export interface BatchEventTime {
  /** The watermark after the batch, ms since the epoch; `null` before any record. */
  readonly watermark: number | null;
  /** Per window name, records of the batch too late for that window (their window was final already). */
  readonly late: Readonly<Record<string, number>>;
  /** Windows the batch made final, in declaration order then by start. */
  readonly finalized: readonly FinalWindow[];
  /** The event-time state after the batch, to save with it. */
  readonly state: EventTimeState;
}

/** A closed window, as {@link microBatch} emits it. */
export interface WindowBatch<Acc> {
  /** When the window opened, ms since the epoch (the scheduler's clock). */
  readonly windowStart: number;
  /** When it closed. */
  readonly windowEnd: number;
  /** Every lane's accumulator merged, lanes in ascending name order. */
  readonly accumulator: Acc;
  /** Valid records folded. */
  readonly records: number;
  /** Invalid records refused by `decode`. */
  readonly invalidRecords: number;
  /** The offsets the window covers, per lane. */
  readonly range: InputRange;
  /** True for the window rebuilt from {@link MicroBatchOptions.replay}. */
  readonly replay: boolean;
  /** Time spent decoding and folding this window's records, in ms. */
  readonly foldMs: number;
  /** True for the last window of an input that ended (not stopped): every event-time window is final. */
  readonly endOfInput: boolean;
  /** Event-time decisions; absent without event-time windows and in the partial stage. */
  readonly eventTime?: BatchEventTime;
  /** Partial stage with event-time windows: the batch's contributions to hand on. */
  readonly partialEventTime?: PartialEventTime;
  /** Merge stage: how many partial aggregates the batch merged. */
  readonly partials?: number;
}

interface LaneFold<Acc> {
  acc: Acc;
  from: number;
  to: number;
  gaps?: DataGap[];
  partial?: LanePartial;
}

class OpenWindow<Acc> {
  readonly lanes = new Map<string, LaneFold<Acc>>();
  records = 0;
  invalidRecords = 0;
  /** Merge stage: partial aggregates merged. */
  partials = 0;
  foldMs = 0;
  /**
   * @param start - when the window opened
   * @param before - the event-time watermark after the previous batch: windows ending at or before it
   *   are final, and their records late
   */
  constructor(
    public start: number,
    public before: number | null,
  ) {}
  get size(): number {
    return this.records + this.invalidRecords;
  }
}

const identity = <T>(value: T): T => value;

/**
 * Cuts a stream of record chunks into processing-time micro-batches and folds every record into the
 * aggregator as it arrives: memory grows with the aggregator's keys, never with the records of a window.
 *
 * Three stages: recovery (drops committed records, rebuilds an uncommitted batch first over exactly its
 * recorded range), decoding (invalid records to `onRejected`), and the window operator. The micro-batch
 * is the commit unit: its processing-time trigger ends it every `span` from subscription, and a batch
 * reaching `maxRecords` (records read, valid or not) closes early. A window in which nothing arrived
 * emits nothing. When the source completes, the open window is emitted, then the stream completes; if
 * a replay is still incomplete then, nothing more is emitted. Each lane is folded into its own
 * accumulator and the lanes are merged in name order when the window closes, so the result does not
 * depend on how the lanes were interleaved.
 *
 * With `eventTime`, records are also assigned to tumbling event-time windows kept open across batches;
 * each batch carries the watermark after it, its late records, the windows it made final and the state
 * to save (see {@link EventTimeOptions}). A batch that reaches `maxRecords` exactly at the end of a chunk
 * then closes when the next chunk arrives, the timer fires, or the input ends (so the last batch of an
 * input can finalize every window).
 *
 * @example
 * ```ts
 * chunks$.pipe(microBatch({ aggregator: metrics({ total: count() }), span: '30s' }))
 *   .subscribe((batch) => console.log(batch.records));
 * ```
 */
export function microBatch<R, T, Acc>(
  options: MicroBatchOptions<R, T, Acc>,
): OperatorFunction<RecordChunk<R>, WindowBatch<Acc>> {
  const span = toMilliseconds(options.span ?? '30s', 'span');
  const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
  if (!(maxRecords >= 1) || (!Number.isInteger(maxRecords) && maxRecords !== Number.POSITIVE_INFINITY))
    throw new InvalidOptionError(`maxRecords must be a whole number of at least 1, got ${maxRecords}`);
  const settings = options.eventTime ? eventTimeSettings(options.eventTime) : undefined;
  const scheduler = options.scheduler ?? asyncScheduler;
  const stage = options.stage ?? 'final';
  const recovery = recover<R>({
    skipBefore: options.skipBefore ?? {},
    ...(options.replay ? { replay: options.replay.range } : {}),
  });
  const windows = settings
    ? {
        eventTime: () =>
          new EventTimeWindows<T>(
            settings,
            stage === 'partial' ? undefined : options.eventTimeState,
            scheduler.now(),
            options.aggregator,
            stage,
          ),
      }
    : {};
  const common = {
    aggregator: options.aggregator,
    span,
    maxRecords,
    scheduler,
    ...(options.replay ? { replay: options.replay } : {}),
    ...(options.stopped ? { stopped: options.stopped } : {}),
    stage,
    ...windows,
  };
  if (options.workers !== undefined) {
    if (stage === 'merge') throw new InvalidOptionError('a merge stage cannot fold on worker threads');
    const codec = stateCodecOf(options.aggregator, 'the metrics of a pipeline with worker threads');
    const layout = settings
      ? new EventTimeWindows<T>(settings, undefined, 0, options.aggregator, stage).layout()
      : { panes: [], batchPane: -1 };
    const folding = parallelFold<R>({
      workers: options.workers,
      layout: {
        codec: codec.id,
        windows: (settings?.windows ?? []).map(
          (w) => [w.name, w.size, stateCodecOf(w.metrics, `the metrics of window "${w.name}"`).id] as const,
        ),
        ...layout,
      },
      maxRecords,
      span,
      scheduler,
      ...(options.flushRequests ? { flushRequests: options.flushRequests } : {}),
      replaying: options.replay !== undefined && Object.keys(options.replay.range).length > 0,
      ...(options.onRejected ? { onRejected: options.onRejected } : {}),
      ...(options.onPressure ? { onPressure: options.onPressure } : {}),
    });
    return (source) => source.pipe(recovery, folding, windowOperator<T, Acc>({ ...common, triggered: true }));
  }
  const decoding = decodeRecords<R, T>((options.decode ?? identity) as Step<R, T>, options.onRejected);
  return (source) =>
    source.pipe(
      recovery,
      decoding,
      windowOperator<T, Acc>({
        ...common,
        ...(options.flushRequests ? { flushRequests: options.flushRequests } : {}),
      }),
    );
}

interface WindowOperatorOptions<T, Acc> {
  readonly aggregator: Aggregator<T, Acc, unknown>;
  readonly span: number;
  readonly maxRecords: number;
  readonly scheduler: SchedulerLike;
  readonly replay?: ReplayWindow;
  readonly flushRequests?: Observable<unknown>;
  readonly eventTime?: () => EventTimeWindows<T>;
  readonly stopped?: AbortSignal;
  readonly stage: 'final' | 'partial' | 'merge';
  /**
   * The batches are closed by `close` events upstream (the parallel fold stage keeps the timer and the
   * flush requests, so that a close falls between the same records as they were read).
   */
  readonly triggered?: boolean;
}

/** The window operator: folds decoded runs into the open micro-batch (and event-time windows). */
function windowOperator<T, Acc>(
  options: WindowOperatorOptions<T, Acc>,
): OperatorFunction<DecodedEvent<T> | ParallelEvent, WindowBatch<Acc>> {
  const { aggregator, span, maxRecords, scheduler, stage } = options;
  // The merge stage merges saved states: the batch aggregator's codec reads them.
  const codec = stage === 'merge' ? stateCodecOf(aggregator, 'the metrics of a merge stage') : undefined;
  // Runs folded on worker threads arrive as states of the batch aggregator.
  const foldedCodec = options.triggered ? stateCodecOf(aggregator, 'the metrics') : undefined;
  return (source) =>
    new Observable<WindowBatch<Acc>>((subscriber) => {
      const eventTime = options.eventTime?.();
      const hasReplay = options.replay !== undefined && Object.keys(options.replay.range).length > 0;
      const replayPlan = hasReplay ? options.replay : undefined;
      // While a replay is pending, new records see the watermark the replayed batch recorded.
      const beforeNew = (): number | null =>
        stage === 'partial'
          ? null
          : replay !== undefined && replayPlan?.watermark !== undefined
            ? replayPlan.watermark
            : (eventTime?.watermark ?? null);
      let replay: OpenWindow<Acc> | undefined = replayPlan
        ? new OpenWindow<Acc>(replayPlan.windowStart, eventTime?.watermark ?? null)
        : undefined;
      let current = new OpenWindow<Acc>(scheduler.now(), beforeNew());
      // A batch that reached maxRecords at the end of a chunk, with event time: closed by what comes next.
      let full = false;

      const foldRange = (
        window: OpenWindow<Acc>,
        run: DecodedRecords<T>,
        from: number,
        to: number,
        gap?: DataGap,
      ) => {
        if (from >= to) return;
        const began = performance.now();
        const { values, offsets, lane, start } = run;
        let fold = window.lanes.get(lane);
        if (fold === undefined) {
          fold = { acc: aggregator.init(), from: offsets[from] as number, to: -1 };
          if (eventTime) fold.partial = eventTime.partial();
          window.lanes.set(lane, fold);
        }
        // An accepted loss goes with the batch that holds the first record after it.
        if (gap !== undefined) fold.gaps = [...(fold.gaps ?? []), gap];
        let acc = fold.acc;
        let valid = 0;
        const partial = fold.partial;
        const before = window.before;
        let refused = 0;
        if (codec !== undefined) {
          // Merge stage: each value is a partial aggregate, counted by the records it holds.
          let records = 0;
          let invalid = 0;
          for (let i = from; i < to; i++) {
            const value = values[i - start] as PartialAggregate | typeof REFUSED;
            if (value === REFUSED) {
              refused += 1;
              continue;
            }
            acc = aggregator.merge(acc, decodeState(codec, value.state, 'a partial aggregate') as Acc);
            if (partial !== undefined)
              (eventTime as EventTimeWindows<T>).addContribution(partial, value.eventTime, before);
            records += value.records;
            invalid += value.invalidRecords;
            valid += 1;
          }
          if (partial !== undefined && valid > 0) partial.seenAt = scheduler.now();
          fold.acc = acc;
          fold.to = offsets[to - 1] as number;
          window.records += records;
          window.invalidRecords += refused + invalid;
          window.partials += valid;
          window.foldMs += performance.now() - began;
          return;
        }
        for (let i = from; i < to; i++) {
          const value = values[i - start] as T | typeof REFUSED;
          if (value === REFUSED) continue;
          // A record folded into an event-time window with the batch's own aggregator is in the batch too.
          if (partial === undefined || !(eventTime as EventTimeWindows<T>).add(partial, value, before))
            acc = aggregator.add(acc, value);
          valid += 1;
        }
        if (partial !== undefined && valid > 0) partial.seenAt = scheduler.now();
        fold.acc = acc;
        fold.to = offsets[to - 1] as number;
        window.records += valid;
        window.invalidRecords += to - from - valid;
        window.foldMs += performance.now() - began;
      };

      const toBatch = (
        window: OpenWindow<Acc>,
        end: number,
        isReplay: boolean,
        endOfInput: boolean,
      ): WindowBatch<Acc> => {
        const names = [...window.lanes.keys()].sort();
        const range: Record<string, OffsetRange> = {};
        let accumulator: Acc | undefined;
        for (const name of names) {
          const fold = window.lanes.get(name) as LaneFold<Acc>;
          if (fold.partial !== undefined && eventTime !== undefined) {
            for (const share of eventTime.batchShares(fold.partial))
              fold.acc = aggregator.merge(fold.acc, share as Acc);
          }
          range[name] =
            fold.gaps === undefined
              ? { from: fold.from, to: fold.to }
              : { from: fold.from, to: fold.to, gaps: fold.gaps };
          accumulator = accumulator === undefined ? fold.acc : aggregator.merge(accumulator, fold.acc);
        }
        const batch = {
          windowStart: window.start,
          windowEnd: end,
          accumulator: accumulator ?? aggregator.init(),
          records: window.records,
          invalidRecords: window.invalidRecords,
          range,
          replay: isReplay,
          foldMs: window.foldMs,
          endOfInput,
          ...(stage === 'merge' ? { partials: window.partials } : {}),
        };
        if (eventTime === undefined) return batch;
        if (stage === 'partial') {
          const lanes = names.map(
            (name) => [name, (window.lanes.get(name) as LaneFold<Acc>).partial as LanePartial] as const,
          );
          return { ...batch, partialEventTime: eventTime.closePartial(lanes) };
        }
        const closed = eventTime.close(
          names.map(
            (name) => [name, (window.lanes.get(name) as LaneFold<Acc>).partial as LanePartial] as const,
          ),
          scheduler.now(),
          isReplay && replayPlan?.watermark !== undefined
            ? { recorded: replayPlan.watermark, endOfInput }
            : { endOfInput },
        );
        return {
          ...batch,
          eventTime: {
            watermark: closed.watermark,
            late: closed.late,
            finalized: closed.finalized.map((f) => ({
              name: f.window.name,
              windowStart: new Date(f.start),
              windowEnd: new Date(f.start + f.window.size),
              records: f.records,
              metrics: f.window.metrics.result(f.acc),
            })),
            state: closed.state,
          },
        };
      };

      /**
       * Emits the open batch and opens the next. At the end of the input an empty batch is still
       * emitted when event-time windows are open, so that they are made final in a transaction.
       */
      const closeCurrent = (endOfInput = false): void => {
        full = false;
        const now = scheduler.now();
        const closing = current;
        const emit = closing.size > 0 || (endOfInput && eventTime?.hasOpenWindows() === true);
        if (emit) subscriber.next(toBatch(closing, now, false, endOfInput));
        current = new OpenWindow<Acc>(now, beforeNew());
      };

      const finishReplay = (): void => {
        if (replay === undefined || replayPlan === undefined) return;
        const window = replay;
        replay = undefined;
        subscriber.next(toBatch(window, replayPlan.windowEnd, true, false));
        // New records read meanwhile saw the recorded watermark, which is now the current one.
      };

      /** Merges a run folded on a worker thread, as {@link foldRange} would have folded its records. */
      const mergeFolded = (window: OpenWindow<Acc>, run: FoldedRecords): void => {
        if (run.start >= run.end) return;
        const { offsets, lane } = run;
        let fold = window.lanes.get(lane);
        if (fold === undefined) {
          fold = { acc: aggregator.init(), from: offsets[run.start] as number, to: -1 };
          if (eventTime) fold.partial = eventTime.partial();
          window.lanes.set(lane, fold);
        }
        if (run.gap !== undefined) fold.gaps = [...(fold.gaps ?? []), run.gap];
        let acc = aggregator.merge(
          fold.acc,
          (foldedCodec as NonNullable<typeof foldedCodec>).decode(run.state),
        );
        const partial = fold.partial;
        if (partial !== undefined && run.eventTime !== undefined) {
          const toBatch = (eventTime as EventTimeWindows<T>).absorbFolded(
            partial,
            run.eventTime,
            window.before,
          );
          for (const late of toBatch) acc = aggregator.merge(acc, late as Acc);
          if (run.valid > 0) partial.seenAt = scheduler.now();
        }
        fold.acc = acc;
        fold.to = offsets[run.end - 1] as number;
        window.records += run.valid;
        window.invalidRecords += run.end - run.start - run.valid;
        window.foldMs += run.foldMs;
      };

      /** A folded run of new records: the parallel stage cut it so that it fits in the open batch. */
      /**
       * Closes the open batch before new records when it is full: it reached `maxRecords` at the end of
       * a run, or with records read while a replay was pending (they wait in it, uncut).
       */
      const closeIfFull = (): void => {
        if (full || (replay === undefined && current.size >= maxRecords)) closeCurrent();
      };

      const mergeNew = (run: FoldedRecords): void => {
        closeIfFull();
        mergeFolded(current, run);
        if (replay === undefined && current.size >= maxRecords) {
          if (eventTime !== undefined) full = true;
          else closeCurrent();
        }
      };

      const foldNew = (run: DecodedRecords<T>): void => {
        closeIfFull();
        let i = run.start;
        let gap = run.gap;
        while (i < run.end) {
          // While a replay is pending, windows stay open so batch ids keep their order.
          const room = replay === undefined ? maxRecords - current.size : Number.POSITIVE_INFINITY;
          const stop = Math.min(run.end, i + room);
          foldRange(current, run, i, stop, gap);
          gap = undefined;
          i = stop;
          if (replay === undefined && current.size >= maxRecords) {
            if (eventTime !== undefined && i === run.end) full = true;
            else closeCurrent();
          }
        }
      };

      let timer: Subscription | undefined;
      let abandoned = false;
      const flushes = options.flushRequests?.subscribe((then) => {
        if (replay === undefined) closeCurrent();
        if (typeof then === 'function') then();
      });
      const subscription = source.subscribe({
        next: (event) => {
          try {
            if (event.kind === 'records') {
              if (event.replay && replay !== undefined)
                foldRange(replay, event, event.start, event.end, event.gap);
              else foldNew(event);
            } else if (event.kind === 'folded') {
              if (event.replay && replay !== undefined) mergeFolded(replay, event);
              else mergeNew(event);
            } else if (event.kind === 'close') {
              if (replay === undefined) closeCurrent();
            } else if (event.kind === 'replay-complete') finishReplay();
            else if (event.kind === 'replay-incomplete') {
              // A replay cut short would commit a smaller batch and skip the rest of its range for good:
              // emit nothing, so the next run replays it again, and nothing read after it either, so
              // batch ids keep their order.
              abandoned = true;
            }
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          try {
            if (!abandoned) closeCurrent(options.stopped?.aborted !== true);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          subscriber.complete();
        },
      });
      if (!subscriber.closed && options.triggered !== true) {
        timer = scheduler.schedule(function tick() {
          if (replay === undefined) closeCurrent();
          this.schedule(undefined, span);
        }, span);
      }
      return () => {
        subscription.unsubscribe();
        flushes?.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
