import { map, type OperatorFunction } from 'rxjs';
import type { DeadLetter } from '../dead-letter';
import { type RecordContext, Rejection, type Step, thrownReason } from '../rejection';
import type { DataGap } from '../source';
import type { RecoveredEvent } from './recovery';

/** Marks a refused record in {@link DecodedRecords.values}. */
export const REFUSED: unique symbol = Symbol('refused');

/** A run of records of one lane after decoding: each value decoded, or {@link REFUSED}. */
export interface DecodedRecords<T> {
  readonly kind: 'records';
  readonly lane: string;
  /** The chunk's offsets; the run covers `offsets[start..end)`. */
  readonly offsets: ArrayLike<number>;
  readonly start: number;
  readonly end: number;
  /** `values[i - start]` is record `i` decoded, or {@link REFUSED}. */
  readonly values: ReadonlyArray<T | typeof REFUSED>;
  readonly replay: boolean;
  readonly gap?: DataGap;
  /** Time spent decoding the run, in ms. */
  readonly decodeMs: number;
}

/** What the decoding stage emits: decoded runs, and the recovery stage's markers unchanged. */
export type DecodedEvent<T> = DecodedRecords<T> | Exclude<RecoveredEvent<unknown>, { kind: 'records' }>;

/**
 * The decoding stage: parses, validates and transforms each record with `decode`; a record the source
 * refused, a {@link Rejection} or a throwing step (user code: that record alone) goes to `onRejected`,
 * synchronously and in order, with its reason; the stream goes on.
 */
export function decodeRecords<R, T>(
  decode: Step<R, T>,
  onRejected: ((letter: DeadLetter<R>) => void) | undefined,
): OperatorFunction<RecoveredEvent<R>, DecodedEvent<T>> {
  const context: { lane: string; offset: number } = { lane: '', offset: 0 };
  return map((event): DecodedEvent<T> => {
    if (event.kind !== 'records') return event;
    const began = performance.now();
    const { chunk, start, end } = event;
    const { values, offsets, lane } = chunk;
    const rejected = chunk.rejected;
    const out = new Array<T | typeof REFUSED>(end - start);
    context.lane = lane;
    for (let i = start; i < end; i++) {
      context.offset = offsets[i] as number;
      let decoded: T | Rejection;
      const refused = rejected === undefined ? undefined : rejected.get(i);
      if (refused !== undefined) decoded = new Rejection(refused);
      else {
        try {
          decoded = decode(values[i] as R, context as RecordContext);
        } catch (error) {
          decoded = new Rejection(thrownReason(error));
        }
      }
      if (decoded instanceof Rejection) {
        out[i - start] = REFUSED;
        onRejected?.({ value: values[i] as R, reason: decoded.reason, lane, offset: context.offset });
      } else out[i - start] = decoded;
    }
    const decodeMs = performance.now() - began;
    return event.gap === undefined
      ? { kind: 'records', lane, offsets, start, end, values: out, replay: event.replay, decodeMs }
      : {
          kind: 'records',
          lane,
          offsets,
          start,
          end,
          values: out,
          replay: event.replay,
          gap: event.gap,
          decodeMs,
        };
  });
}
