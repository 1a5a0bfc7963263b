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
import { type RecordContext, Rejection, type Step } from './rejection';
import type { DataGap, InputRange, OffsetRange, Positions, RecordChunk } from './source';

/** A window to rebuild exactly: the recorded plan of a batch that was not committed before a crash. */
export interface ReplayWindow {
  /** The input the window covered; the replay closes once every lane has reached its `to`. */
  readonly range: InputRange;
  /** The original window's opening time, ms since the epoch. */
  readonly windowStart: number;
  /** The original window's closing time, ms since the epoch. */
  readonly windowEnd: number;
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
  /** Each emission closes the open window at once (when it holds records). */
  readonly flushRequests?: Observable<unknown>;
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
}

interface LaneFold<Acc> {
  acc: Acc;
  from: number;
  to: number;
  gaps?: DataGap[];
}

class OpenWindow<Acc> {
  readonly lanes = new Map<string, LaneFold<Acc>>();
  records = 0;
  invalidRecords = 0;
  foldMs = 0;
  constructor(public start: number) {}
  get size(): number {
    return this.records + this.invalidRecords;
  }
}

const identity = <T>(value: T): T => value;

/** The longest reason kept from an error thrown by `decode`, in UTF-16 code units. */
const MAX_THROWN_REASON = 300;

/** A one-line reason from whatever a decode step threw. */
function thrownReason(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const line = message.replace(/[\r\n]+/g, ' ').trim();
  return `decode threw ${line.length > MAX_THROWN_REASON ? `${line.slice(0, MAX_THROWN_REASON - 1)}…` : line}`;
}

/**
 * Cuts a stream of record chunks into processing-time micro-batches and folds every record into the
 * aggregator as it arrives: memory grows with the aggregator's keys, never with the records of a window.
 *
 * Windows end every `span` from subscription (as a processing-time trigger does); a window reaching
 * `maxRecords` closes early. A window in which nothing arrived emits nothing. When the source completes,
 * the open window is emitted, then the stream completes; if a replay is still incomplete then, nothing
 * more is emitted. Each lane is folded into its own accumulator
 * and the lanes are merged in name order when the window closes, so the result does not depend on how
 * the lanes were interleaved.
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
  if (!(maxRecords >= 1)) throw new InvalidOptionError(`maxRecords must be at least 1, got ${maxRecords}`);
  const aggregator = options.aggregator;
  const decode = (options.decode ?? identity) as Step<R, T>;
  const onRejected = options.onRejected;
  const scheduler = options.scheduler ?? asyncScheduler;
  const skipBefore = options.skipBefore ?? {};

  return (source) =>
    new Observable<WindowBatch<Acc>>((subscriber) => {
      let current = new OpenWindow<Acc>(scheduler.now());
      let replay: { plan: ReplayWindow; window: OpenWindow<Acc>; reached: Map<string, number> } | undefined =
        options.replay && Object.keys(options.replay.range).length > 0
          ? {
              plan: options.replay,
              window: new OpenWindow<Acc>(options.replay.windowStart),
              reached: new Map(),
            }
          : undefined;
      const context: { lane: string; offset: number } = { lane: '', offset: 0 };

      const foldRange = (
        window: OpenWindow<Acc>,
        chunk: RecordChunk<R>,
        start: number,
        end: number,
        gap?: DataGap,
      ): void => {
        if (start >= end) return;
        const began = performance.now();
        const { values, offsets, lane } = chunk;
        let fold = window.lanes.get(lane);
        if (fold === undefined) {
          fold = { acc: aggregator.init(), from: offsets[start] as number, to: -1 };
          window.lanes.set(lane, fold);
        }
        // An accepted loss goes with the batch that holds the first record after it.
        if (gap !== undefined) fold.gaps = [...(fold.gaps ?? []), gap];
        let acc = fold.acc;
        let valid = 0;
        context.lane = lane;
        const rejected = chunk.rejected;
        for (let i = start; i < end; i++) {
          context.offset = offsets[i] as number;
          let out: T | Rejection;
          const refused = rejected === undefined ? undefined : rejected.get(i);
          if (refused !== undefined) out = new Rejection(refused);
          else {
            try {
              out = decode(values[i] as R, context as RecordContext);
            } catch (error) {
              // A throwing decode step (user code) refuses that record only; the stream goes on.
              out = new Rejection(thrownReason(error));
            }
          }
          if (out instanceof Rejection) {
            window.invalidRecords += 1;
            onRejected?.({ value: values[i] as R, reason: out.reason, lane, offset: context.offset });
          } else {
            acc = aggregator.add(acc, out);
            valid += 1;
          }
        }
        fold.acc = acc;
        fold.to = offsets[end - 1] as number;
        window.records += valid;
        window.foldMs += performance.now() - began;
      };

      const toBatch = (window: OpenWindow<Acc>, end: number, isReplay: boolean): WindowBatch<Acc> => {
        const names = [...window.lanes.keys()].sort();
        const range: Record<string, OffsetRange> = {};
        let accumulator: Acc | undefined;
        for (const name of names) {
          const fold = window.lanes.get(name) as LaneFold<Acc>;
          range[name] =
            fold.gaps === undefined
              ? { from: fold.from, to: fold.to }
              : { from: fold.from, to: fold.to, gaps: fold.gaps };
          accumulator = accumulator === undefined ? fold.acc : aggregator.merge(accumulator, fold.acc);
        }
        return {
          windowStart: window.start,
          windowEnd: end,
          accumulator: accumulator ?? aggregator.init(),
          records: window.records,
          invalidRecords: window.invalidRecords,
          range,
          replay: isReplay,
          foldMs: window.foldMs,
        };
      };

      const closeCurrent = (): void => {
        const now = scheduler.now();
        const closing = current;
        current = new OpenWindow<Acc>(now);
        if (closing.size > 0) subscriber.next(toBatch(closing, now, false));
      };

      const finishReplay = (): void => {
        if (replay === undefined) return;
        const { plan, window } = replay;
        replay = undefined;
        subscriber.next(toBatch(window, plan.windowEnd, true));
      };

      const replayComplete = (): boolean => {
        if (replay === undefined) return false;
        for (const [lane, { to }] of Object.entries(replay.plan.range)) {
          if ((replay.reached.get(lane) ?? -1) < to) return false;
        }
        return true;
      };

      const foldNormal = (chunk: RecordChunk<R>, start: number, end: number, gap?: DataGap): void => {
        let i = start;
        while (i < end) {
          // While a replay is pending, windows stay open so batch ids keep their order.
          const room = replay === undefined ? maxRecords - current.size : Number.POSITIVE_INFINITY;
          const stop = Math.min(end, i + room);
          foldRange(current, chunk, i, stop, i === start ? gap : undefined);
          i = stop;
          if (replay === undefined && current.size >= maxRecords) closeCurrent();
        }
      };

      const onChunk = (chunk: RecordChunk<R>): void => {
        const { offsets, lane } = chunk;
        const length = chunk.values.length;
        // The source says every offset of the lane below `position` is accounted for: a replay waiting
        // for that lane (given to another group member, or resumed past its range) need not wait more.
        if (chunk.position !== undefined && replay?.plan.range[lane] !== undefined) {
          const seen = chunk.position - 1;
          if (seen > (replay.reached.get(lane) ?? -1)) replay.reached.set(lane, seen);
          if (replayComplete()) finishReplay();
        }
        let start = 0;
        const floor = skipBefore[lane];
        if (floor !== undefined) while (start < length && (offsets[start] as number) < floor) start++;
        if (start >= length) return;
        let gap = chunk.gap;
        const replayRange = replay?.plan.range[lane];
        if (replay !== undefined && replayRange !== undefined) {
          let split = start;
          while (split < length && (offsets[split] as number) <= replayRange.to) split++;
          if (split > start) {
            foldRange(replay.window, chunk, start, split, gap);
            gap = undefined;
          }
          // A lane seen past its range (its records were committed elsewhere) counts as reached too.
          const last = offsets[length - 1] as number;
          if (last > (replay.reached.get(lane) ?? -1)) replay.reached.set(lane, last);
          if (replayComplete()) finishReplay();
          start = split;
        }
        foldNormal(chunk, start, length, gap);
      };

      let timer: Subscription | undefined;
      const flushes = options.flushRequests?.subscribe(() => {
        if (replay === undefined) closeCurrent();
      });
      const subscription = source.subscribe({
        next: (chunk) => {
          try {
            onChunk(chunk);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          if (replay !== undefined) {
            // A replay cut short would commit a smaller batch and skip the rest of its range for good:
            // emit nothing, so the next run replays it again, and nothing read after it either, so batch
            // ids keep their order.
            subscriber.complete();
            return;
          }
          closeCurrent();
          subscriber.complete();
        },
      });
      if (!subscriber.closed) {
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
