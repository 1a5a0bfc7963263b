import {
  BehaviorSubject,
  combineLatest,
  concatMap,
  defer,
  distinctUntilChanged,
  filter,
  map,
  type Observable,
  type SchedulerLike,
  Subject,
  tap,
} from 'rxjs';
import type { Aggregator } from './aggregator';
import { type Batch, dataLossOf, type Sink } from './batch';
import type { BatchPlan, CheckpointState, CheckpointStore } from './checkpoint';
import { type DeadLetterHandler, discardDeadLetters } from './dead-letter';
import type { Duration } from './duration';
import { type ErrorCode, InvalidOptionError, TicketflowError, toTicketflowError } from './errors';
import type { EventTimeOptions, EventTimeState } from './event-time';
import { eventTimeSettings } from './internal/event-time-windows';
import { PREFERS_PACKED_LINES } from './internal/packed-lines';
import { workerSettings } from './internal/parallel-fold';
import type { Lease } from './lease';
import { memoryCheckpointStore } from './memory-checkpoint-store';
import { microBatch, type WindowBatch } from './micro-batch';
import { PARTIAL_FORMAT, type PartialAggregate } from './partial';
import type { PipelineEvent } from './pipeline-events';
import type { BatchProgress, OpenWindowProgress, RunSummary } from './progress';
import type { Step } from './rejection';
import { type DurableStep, type RetryOptions, retryPolicy } from './retry';
import type { Positions, RecordChunk, Source, SourceContext } from './source';
import { encodeState, stateCodecOf } from './state-codec';
import type { WorkerOptions } from './workers';

/** Window settings of a pipeline. */
export interface WindowOptions {
  /** Processing-time span of a micro-batch. Default `'30s'`. */
  readonly span?: Duration;
  /** Closes a batch early once it holds this many records. Default: no limit. */
  readonly maxRecords?: number;
}

/** Options of {@link createPipeline}. */
export interface PipelineOptions<R, T, Acc, M> {
  /** Where records come from. */
  readonly source: Source<R>;
  /**
   * Parses, validates and enriches a raw record; a rejection sends it to `deadLetters`. A step that throws
   * refuses that record alone (the error's message is the reason); the stream goes on. Default: identity.
   */
  readonly decode?: Step<R, T>;
  /** The metrics folded over each batch, usually built with `metrics({...})`. */
  readonly metrics: Aggregator<T, Acc, M>;
  /** Where finished batches go. */
  readonly sink: Sink<M>;
  /** Durable progress; without one, batch ids restart at 0 on each run. Default: in memory. */
  readonly checkpoint?: CheckpointStore;
  /** Where invalid records go. Default: discarded (still counted). */
  readonly deadLetters?: DeadLetterHandler<R>;
  /** Window settings. Default: 30 s, no record limit. */
  readonly window?: WindowOptions;
  /** Decides window times; pass a virtual-time scheduler in tests. Default: RxJS `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Batches that may wait for the sink before the source is asked to pause. Default 2. */
  readonly maxPendingBatches?: number;
  /**
   * How a failing durable step of a batch (checkpoint `begin`, dead-letter flush, sink write,
   * checkpoint `commit`) is retried; see {@link RetryOptions}. Default: not retried.
   */
  readonly retry?: RetryOptions;
  /**
   * The lease on the output (see `acquireLease`): {@link Lease.assertHeld} is awaited before every
   * attempt of every durable step, so a pipeline that lost its lease fails with `CHECKPOINT_CONFLICT`
   * before it commits another batch. Default: none (nothing stops a second writer).
   */
  readonly lease?: Pick<Lease, 'assertHeld'>;
  /**
   * Event-time windows kept open across micro-batches and written once, final, in the transaction of
   * the batch whose watermark passes their end (see {@link EventTimeOptions}); their state is saved
   * with every batch plan, so a crash loses nothing and a replay finalizes the same windows with the
   * same bytes. Each batch then carries `watermark`, `lateRecords` and the `windows` it made final.
   * Throws `InvalidOptionError` at creation when a window's metrics (or a member of them) have no
   * codec, naming it. Default: none.
   */
  readonly eventTime?: EventTimeOptions<T>;
  /**
   * Where this pipeline stands in partial/final aggregation across processes:
   * - `'final'` (default): folds records and writes the final output itself;
   * - `'partial'`: folds records, and hands each batch to the sink as a {@link PartialAggregate}
   *   (`Batch.partial`: the encoded accumulator and, with `eventTime`, each window's contribution and
   *   the source lanes' event times) instead of making windows final: a Kafka transaction then
   *   produces it with the consumed offsets (`kafkaPartials`);
   * - `'merge'`: its records are partial aggregates (decode them with `parsePartial`), merged into its
   *   batches (which count the records they hold) and event-time windows (the watermark is computed
   *   over the partials' source lanes), written as a final stage writes them.
   *
   * Throws `InvalidOptionError` at creation when `metrics` has no codec in the partial or merge stage.
   */
  readonly stage?: 'final' | 'partial' | 'merge';
  /**
   * Decodes and folds the records on worker threads, which send back encoded partial state that this
   * thread merges in the order the records were read (see {@link WorkerOptions}): the same batches, the
   * same offsets, the same checkpoint, and the same metrics wherever the aggregators merge exactly.
   * `decode`, `metrics` and `eventTime` must come from the fold module the workers load (a worker that
   * disagrees stops the run with `INVALID_OPTION`). Not in the merge stage.
   *
   * Throws `InvalidOptionError` at creation when `metrics` or a window's metrics have no codec, or an
   * option is out of its domain. Default: everything on this thread.
   */
  readonly workers?: WorkerOptions<R>;
}

/**
 * Options of a merge stage (`createPipeline({ stage: 'merge', ... })`): its decode step yields
 * {@link PartialAggregate}s (usually `parsePartial` after the message text), while `metrics` and
 * `eventTime` are those of the partial processors' records (`In`).
 */
export type MergePipelineOptions<R, In, Acc, M> = Omit<PipelineOptions<R, In, Acc, M>, 'decode' | 'stage'> & {
  readonly stage: 'merge';
  /** Turns a raw record into the partial aggregate it carries, or refuses it. */
  readonly decode: Step<R, PartialAggregate>;
};

/** A pipeline ready to run. */
export interface Pipeline {
  /**
   * Everything the running pipeline does, as one stream (see {@link PipelineEvent}): committed batches,
   * final windows, records read, the source's status, retries, the stop. Hot: subscribe before
   * {@link Pipeline.run}. Completes when the run ends.
   */
  readonly events$: Observable<PipelineEvent>;
  /**
   * One event per committed batch. Completes when the run ends.
   *
   * @deprecated Use {@link Pipeline.events$} and its `batch-committed` events.
   */
  readonly progress$: Observable<BatchProgress>;
  /**
   * Reads the source until it completes or {@link Pipeline.stop} is called, committing each batch in
   * order; resolves with the run's totals once the last batch is committed. Rejects with a
   * {@link TicketflowError} when the source, sink or checkpoint fails: batches not yet committed are
   * then replayed by the next run.
   */
  run(): Promise<RunSummary>;
  /** Asks the source to stop; the open window is then written and committed, and `run` resolves. */
  stop(): void;
}

/**
 * Assembles a micro-batch pipeline: source → decode → window and fold → sink → checkpoint → acknowledge.
 *
 * Each batch's input range is recorded in the checkpoint before its output is written, the output is
 * written and made durable, the checkpoint marks it committed, and only then is the source
 * acknowledged. After a crash the next run rebuilds an uncommitted batch over the same records, with the
 * same id and window, so the sink rewrites the same output: no record is lost or counted twice.
 *
 * @example
 * ```ts
 * const pipeline = createPipeline({
 *   source: memorySource([{ values: ['{"n":1}', '{"n":2}'] }]),
 *   decode: (line) => JSON.parse(line) as { n: number },
 *   metrics: metrics({ total: count(), mean_n: mean((r: { n: number }) => r.n) }),
 *   sink: memorySink(),
 * });
 * pipeline.progress$.subscribe((p) => console.log(`batch ${p.batchId}: ${p.records} records`));
 * await pipeline.run();
 * ```
 */
export function createPipeline<R, T, Acc, M>(options: PipelineOptions<R, T, Acc, M>): Pipeline;
export function createPipeline<R, In, Acc, M>(options: MergePipelineOptions<R, In, Acc, M>): Pipeline;
export function createPipeline<R, T, Acc, M>(
  options: PipelineOptions<R, T, Acc, M> | MergePipelineOptions<R, T, Acc, M>,
): Pipeline {
  return buildPipeline(options as PipelineOptions<R, T, Acc, M>);
}

function buildPipeline<R, T, Acc, M>(options: PipelineOptions<R, T, Acc, M>): Pipeline {
  const { source, sink, metrics } = options;
  const checkpoint = options.checkpoint ?? memoryCheckpointStore();
  const deadLetters = (options.deadLetters ?? discardDeadLetters) as DeadLetterHandler<R>;
  const maxPending = options.maxPendingBatches ?? 2;
  const stage = options.stage ?? 'final';
  if (stage !== 'final' && stage !== 'partial' && stage !== 'merge')
    throw new InvalidOptionError(`stage must be final, partial or merge, got ${JSON.stringify(stage)}`);
  const partialCodec =
    stage === 'partial' ? stateCodecOf(metrics, 'the metrics of a partial stage') : undefined;
  if (stage === 'merge') stateCodecOf(metrics, 'the metrics of a merge stage');
  // Event-time windows are checked now, codecs included, rather than once the run has begun.
  if (options.eventTime) {
    for (const window of eventTimeSettings(options.eventTime).windows)
      stateCodecOf(window.metrics, `the metrics of window "${window.name}"`);
  }
  if (!(maxPending >= 1))
    throw new InvalidOptionError(`maxPendingBatches must be at least 1, got ${maxPending}`);
  if (options.workers !== undefined) {
    if (stage === 'merge') throw new InvalidOptionError('a merge stage cannot fold on worker threads');
    workerSettings(options.workers);
    stateCodecOf(metrics, 'the metrics of a pipeline with worker threads');
  }

  const events$ = new Subject<PipelineEvent>();
  const abort = new AbortController();
  const retrying = retryPolicy({
    ...options.retry,
    onRetry: (retry) => {
      options.retry?.onRetry?.(retry);
      events$.next({ type: 'retrying', retry });
    },
    onRecovered: (recovery) => {
      options.retry?.onRecovered?.(recovery);
      events$.next({ type: 'recovered', recovery });
    },
  });
  /**
   * Runs one durable step under the lease and the retry policy; its failure names the step and batch
   * (`context`) before the storage's own one-line message, with `code` unless it has a more telling one.
   */
  const durable = <V>(
    step: DurableStep,
    batchId: number,
    code: ErrorCode,
    context: string,
    run: () => Promise<V>,
  ): Promise<V> =>
    retrying(
      step,
      batchId,
      async () => {
        try {
          await options.lease?.assertHeld();
          return await run();
        } catch (error) {
          throw inStep(error, code, context);
        }
      },
      abort.signal,
    );
  let started = false;

  async function run(): Promise<RunSummary> {
    if (started) throw new InvalidOptionError('a pipeline runs once; create another to run again');
    started = true;
    const state = await checkpoint.load().catch((error: unknown) => {
      throw toTicketflowError(
        error,
        'CHECKPOINT_FAILED',
        `cannot read the checkpoint at ${checkpoint.location}`,
      );
    });
    checkEventTimeHistory(state, options.eventTime, checkpoint.location);
    const pending = state.pending;
    let nextBatchId = state.nextBatchId;
    let positions: Positions = state.positions;
    const startAt: Record<string, number> = { ...positions };
    if (pending) for (const [lane, { from }] of Object.entries(pending.range)) startAt[lane] = from;

    const pressure = new BehaviorSubject(false);
    // With worker threads, records read wait for a worker too: the source pauses for either.
    const workersBusy = new BehaviorSubject(false);
    // A flush request carries what to do once the batch it closed was emitted (with worker threads,
    // after the runs read before it come back).
    const flushRequests = new Subject<() => void>();
    let inFlight = 0;
    let drainWaiters: Array<() => void> = [];
    const settle = (delta: number) => {
      inFlight += delta;
      pressure.next(inFlight > maxPending);
      if (inFlight === 0) {
        const waiters = drainWaiters;
        drainWaiters = [];
        for (const resolve of waiters) resolve();
      }
    };
    const context: SourceContext = {
      // With worker threads, a source of text lines may hand over their bytes rather than strings.
      ...(options.workers ? { [PREFERS_PACKED_LINES]: true } : {}),
      startAt,
      signal: abort.signal,
      pressure: combineLatest([pressure, workersBusy]).pipe(
        map(([writes, workers]) => writes || workers),
        distinctUntilChanged(),
      ),
      flush: () =>
        new Promise<void>((resolve) => {
          flushRequests.next(() => {
            if (inFlight === 0) resolve();
            else drainWaiters.push(resolve);
          });
        }),
    };

    const summary = {
      batches: 0,
      records: 0,
      invalidRecords: 0,
      lastBatchId: undefined as number | undefined,
    };

    const commit = async (window: WindowBatch<Acc>): Promise<void> => {
      const began = performance.now();
      let plan: BatchPlan;
      let planMs = 0;
      if (window.replay && pending) {
        plan = pending;
      } else {
        const next: Record<string, number> = { ...positions };
        for (const [lane, { to }] of Object.entries(window.range)) next[lane] = to + 1;
        plan = {
          batchId: nextBatchId,
          windowStart: window.windowStart,
          windowEnd: window.windowEnd,
          range: window.range,
          positions: next,
          ...(window.eventTime
            ? { watermark: window.eventTime.watermark, eventTime: window.eventTime.state }
            : {}),
        };
        const begun = plan;
        await durable(
          'begin',
          begun.batchId,
          'CHECKPOINT_FAILED',
          `cannot record batch ${begun.batchId}`,
          () => checkpoint.begin(begun),
        );
        planMs = performance.now() - began;
      }
      nextBatchId = plan.batchId + 1;
      positions = plan.positions;

      const lettersBegan = performance.now();
      await durable('dead-letters', plan.batchId, 'SINK_FAILED', 'cannot write the dead letters', () =>
        deadLetters.flush(),
      );
      const writeBegan = performance.now();
      const batch: Batch<M> = {
        batchId: plan.batchId,
        windowStart: new Date(plan.windowStart),
        windowEnd: new Date(plan.windowEnd),
        records: window.records,
        invalidRecords: window.invalidRecords,
        metrics: metrics.result(window.accumulator),
        range: plan.range,
        // A replay keeps the losses its plan recorded and adds any found while reading it again.
        dataLoss: window.replay ? dataLossOf(plan.range, window.range) : dataLossOf(plan.range),
        ...(partialCodec
          ? {
              partial: {
                format: PARTIAL_FORMAT,
                records: window.records,
                invalidRecords: window.invalidRecords,
                state: encodeState(partialCodec, window.accumulator),
                range: plan.range,
                windowStart: plan.windowStart,
                windowEnd: plan.windowEnd,
                ...(window.partialEventTime ? { eventTime: window.partialEventTime } : {}),
              },
            }
          : {}),
        ...(window.eventTime
          ? {
              watermark: window.eventTime.watermark === null ? null : new Date(window.eventTime.watermark),
              lateRecords: window.eventTime.late,
              windows: window.eventTime.finalized,
            }
          : {}),
      };
      await durable('write', plan.batchId, 'SINK_FAILED', `cannot write batch ${plan.batchId}`, () =>
        sink.write(batch),
      );
      const commitBegan = performance.now();
      await durable('commit', plan.batchId, 'CHECKPOINT_FAILED', `cannot commit batch ${plan.batchId}`, () =>
        checkpoint.commit(plan),
      );
      const acknowledgeBegan = performance.now();
      await source.acknowledge(plan.range, plan.positions).catch((error: unknown) => {
        throw toTicketflowError(error, 'SOURCE_FAILED', `cannot acknowledge batch ${plan.batchId}`);
      });
      const ended = performance.now();

      const inputRecords = window.records + window.invalidRecords;
      const busyMs = window.foldMs + (ended - began);
      const windowSeconds = Math.max(plan.windowEnd - plan.windowStart, 1) / 1000;
      summary.batches += 1;
      summary.records += window.records;
      summary.invalidRecords += window.invalidRecords;
      summary.lastBatchId = plan.batchId;
      const progress: BatchProgress = {
        batchId: plan.batchId,
        windowStart: batch.windowStart,
        windowEnd: batch.windowEnd,
        inputRecords,
        records: window.records,
        invalidRecords: window.invalidRecords,
        inputRecordsPerSecond: inputRecords / windowSeconds,
        processedRecordsPerSecond: busyMs > 0 ? (inputRecords * 1000) / busyMs : inputRecords * 1000,
        durationMs: {
          fold: window.foldMs,
          plan: planMs,
          deadLetters: writeBegan - lettersBegan,
          write: commitBegan - writeBegan,
          commit: acknowledgeBegan - commitBegan,
          acknowledge: ended - acknowledgeBegan,
          total: busyMs,
        },
        replayed: window.replay,
        lostRecords: (batch.dataLoss ?? []).reduce((sum, loss) => sum + loss.lost, 0),
        output: sink.describe(plan.batchId),
        metrics: batch.metrics,
        ...(window.partials !== undefined ? { partials: window.partials } : {}),
        ...(batch.windows
          ? {
              watermark: batch.watermark ?? null,
              lateRecords: batch.lateRecords ?? {},
              windows: batch.windows.map((w) => ({
                name: w.name,
                windowStart: w.windowStart,
                windowEnd: w.windowEnd,
                records: w.records,
                output: sink.describeWindow?.(w) ?? `${w.name} ${w.windowStart.toISOString()}`,
              })),
              openWindows: openWindowsOf(window.eventTime?.state, options.eventTime),
            }
          : {}),
      };
      events$.next({ type: 'batch-committed', batch: progress });
      for (const window of progress.windows ?? [])
        events$.next({ type: 'window-finalized', batchId: plan.batchId, window });
    };

    let chunks: Observable<RecordChunk<R>> | undefined;
    try {
      chunks = source.open(context);
    } catch (error) {
      throw toTicketflowError(error, 'SOURCE_FAILED', `cannot open ${source.name}`);
    }
    events$.next({ type: 'started', source: source.name, checkpoint: checkpoint.location });
    const statuses = source.status$?.subscribe({
      next: (status) => events$.next({ type: 'source-status', status }),
      // A source whose status fails still runs; its failures surface on the records.
      error: () => undefined,
    });
    const batches = chunks.pipe(
      tap((chunk) => {
        if (chunk.offsets.length > 0)
          events$.next({ type: 'records-read', lane: chunk.lane, records: chunk.offsets.length });
      }),
      microBatch<R, T, Acc>({
        aggregator: metrics,
        ...(options.decode ? { decode: options.decode } : {}),
        onRejected: (letter) => deadLetters.write(letter),
        ...(options.window?.span !== undefined ? { span: options.window.span } : {}),
        ...(options.window?.maxRecords !== undefined ? { maxRecords: options.window.maxRecords } : {}),
        ...(options.scheduler ? { scheduler: options.scheduler } : {}),
        skipBefore: startAt,
        ...(pending ? { replay: pending } : {}),
        flushRequests,
        stopped: abort.signal,
        stage,
        ...(options.eventTime ? { eventTime: options.eventTime } : {}),
        ...(state.eventTime ? { eventTimeState: state.eventTime } : {}),
        ...(options.workers
          ? { workers: options.workers, onPressure: (paused: boolean) => workersBusy.next(paused) }
          : {}),
      }),
      tap(() => settle(1)),
      concatMap((window) =>
        defer(async () => {
          try {
            await commit(window);
          } finally {
            settle(-1);
          }
        }),
      ),
    );

    let failure: unknown;
    await new Promise<void>((resolve) => {
      batches.subscribe({
        error: (error: unknown) => {
          failure = error;
          resolve();
        },
        complete: resolve,
      });
    });
    for (const resolve of drainWaiters) resolve();
    drainWaiters = [];
    statuses?.unsubscribe();
    const closing = await Promise.allSettled([deadLetters.close?.(), sink.close?.(), source.close?.()]);
    events$.complete();
    if (failure !== undefined) {
      throw failure instanceof TicketflowError
        ? failure
        : toTicketflowError(failure, 'SOURCE_FAILED', `${source.name} failed`);
    }
    if (
      pending &&
      summary.lastBatchId === undefined &&
      Object.keys(pending.range).length > 0 &&
      !abort.signal.aborted
    ) {
      throw new TicketflowError(
        'SOURCE_FAILED',
        `${source.name} ended before batch ${pending.batchId} could be rebuilt over its recorded input ${JSON.stringify(pending.range)}`,
      );
    }
    const closeFailure = closing.find((result) => result.status === 'rejected');
    if (closeFailure) throw toTicketflowError(closeFailure.reason, 'INTERNAL', 'cannot close the pipeline');
    return summary;
  }

  return {
    events$: events$.asObservable(),
    progress$: events$.pipe(
      filter((event) => event.type === 'batch-committed'),
      map((event) => event.batch),
    ),
    run,
    stop: () => {
      if (abort.signal.aborted) return;
      events$.next({ type: 'stopping' });
      abort.abort();
    },
  };
}

/** Codes that say more than the step's generic one, kept when a step's failure is wrapped. */
const TELLING_CODES: ReadonlySet<ErrorCode> = new Set([
  'CHECKPOINT_CONFLICT',
  'AUTHENTICATION_FAILED',
  'STORAGE_NOT_FOUND',
  'INVALID_OPTION',
  'ABORTED',
]);

/**
 * A durable step's failure as one line, `<context>: <the storage's message>`, keeping the cause's
 * `retriable` and `fatal` flags, and its code when it is more telling than `code`.
 */
function inStep(error: unknown, code: ErrorCode, context: string): TicketflowError {
  if (!(error instanceof TicketflowError)) return toTicketflowError(error, code, context);
  return new TicketflowError(
    TELLING_CODES.has(error.code) ? error.code : code,
    `${context}: ${error.message}`,
    {
      cause: error,
      retriable: error.retriable,
      fatal: error.fatal,
    },
  );
}

/** The open windows of an event-time state, for progress: by window name (as declared), then start. */
function openWindowsOf(
  state: EventTimeState | undefined,
  eventTime: EventTimeOptions<never> | undefined,
): OpenWindowProgress[] {
  if (state === undefined || eventTime === undefined) return [];
  return eventTime.windows.flatMap((w) =>
    (state.windows[w.name]?.open ?? []).map(([start, records]) => ({
      name: w.name,
      windowStart: new Date(start),
      windowEnd: new Date(start + w.size),
      records,
    })),
  );
}

/**
 * Refuses to turn event-time windows on for an output whose committed batches were made without them
 * (the windows would miss those records yet be written as final), or off while the checkpoint holds
 * open windows (they would never be written).
 */
function checkEventTimeHistory(
  state: CheckpointState,
  eventTime: EventTimeOptions<never> | undefined,
  location: string,
): void {
  if (eventTime !== undefined && state.eventTime === undefined && state.nextBatchId > 0) {
    throw new TicketflowError(
      'INVALID_STATE',
      `the checkpoint at ${location} has ${state.nextBatchId} committed batch(es) made without event-time windows: windows started now would miss their records yet be written as final; start a new output location for event-time windows`,
    );
  }
  if (eventTime === undefined && state.eventTime !== undefined) {
    const names = Object.keys(state.eventTime.windows).join(', ');
    throw new TicketflowError(
      'INVALID_STATE',
      `the checkpoint at ${location} keeps event-time windows (${names}): without them, the windows still open would never be written; run with them, or start a new output location`,
    );
  }
}
