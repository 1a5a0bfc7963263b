import { Observable, type OperatorFunction } from 'rxjs';
import type { DataGap, InputRange, Positions, RecordChunk } from '../source';

/** A run of records of one chunk, `[start, end)`, for the batch being replayed or for new batches. */
export interface RecoveredRecords<R> {
  readonly kind: 'records';
  readonly chunk: RecordChunk<R>;
  readonly start: number;
  readonly end: number;
  /** True for records of the batch being replayed. */
  readonly replay: boolean;
  /** An accepted loss just before the first record of the run. */
  readonly gap?: DataGap;
}

/**
 * What the recovery stage emits: runs of records; `replay-complete` once every lane of the batch being
 * replayed reached the end of its recorded range; `replay-incomplete` just before completing when the
 * input ended before that (nothing more may then be emitted as a batch, so that the next run replays it
 * again and batch ids keep their order).
 */
export type RecoveredEvent<R> =
  | RecoveredRecords<R>
  | { readonly kind: 'replay-complete' }
  | { readonly kind: 'replay-incomplete' };

/** Options of {@link recover}. */
export interface RecoverOptions {
  /** Records below these offsets were committed and are dropped. */
  readonly skipBefore: Positions;
  /** The recorded range of a batch to rebuild first, or none. */
  readonly replay?: InputRange;
}

/**
 * The recovery stage: drops what is committed, routes the records of an uncommitted batch (replayed
 * after a crash) apart from new ones, and says when that batch is whole again.
 *
 * A lane counts as reached when a record at or past the end of its range arrives, or when the source
 * says (a chunk's `position`) that every offset below it is accounted for: given to another member of
 * a consumer group, or resumed past its range.
 */
export function recover<R>(options: RecoverOptions): OperatorFunction<RecordChunk<R>, RecoveredEvent<R>> {
  const skipBefore = options.skipBefore;
  return (source) =>
    new Observable<RecoveredEvent<R>>((subscriber) => {
      let replay: { range: InputRange; reached: Map<string, number> } | undefined =
        options.replay && Object.keys(options.replay).length > 0
          ? { range: options.replay, reached: new Map() }
          : undefined;

      const reach = (lane: string, seen: number): void => {
        if (replay === undefined) return;
        if (seen > (replay.reached.get(lane) ?? -1)) replay.reached.set(lane, seen);
        for (const [name, { to }] of Object.entries(replay.range)) {
          if ((replay.reached.get(name) ?? -1) < to) return;
        }
        replay = undefined;
        subscriber.next({ kind: 'replay-complete' });
      };

      const onChunk = (chunk: RecordChunk<R>): void => {
        const { offsets, lane } = chunk;
        const length = chunk.offsets.length;
        if (chunk.position !== undefined && replay?.range[lane] !== undefined)
          reach(lane, chunk.position - 1);
        let start = 0;
        const floor = skipBefore[lane];
        if (floor !== undefined) while (start < length && (offsets[start] as number) < floor) start++;
        if (start >= length) return;
        let gap = chunk.gap;
        const replayRange = replay?.range[lane];
        if (replayRange !== undefined) {
          let split = start;
          while (split < length && (offsets[split] as number) <= replayRange.to) split++;
          if (split > start) {
            subscriber.next(
              gap === undefined
                ? { kind: 'records', chunk, start, end: split, replay: true }
                : { kind: 'records', chunk, start, end: split, replay: true, gap },
            );
            gap = undefined;
          }
          // A lane seen past its range (its records were committed elsewhere) counts as reached too.
          reach(lane, offsets[length - 1] as number);
          start = split;
        }
        if (start < length) {
          subscriber.next(
            gap === undefined
              ? { kind: 'records', chunk, start, end: length, replay: false }
              : { kind: 'records', chunk, start, end: length, replay: false, gap },
          );
        }
      };

      return source.subscribe({
        next: (chunk) => {
          try {
            onChunk(chunk);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          if (replay !== undefined) subscriber.next({ kind: 'replay-incomplete' });
          subscriber.complete();
        },
      });
    });
}
