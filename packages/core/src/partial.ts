import type { StateData } from './aggregator';
import { type Rejection, reject } from './rejection';
import type { InputRange } from './source';

/** The format tag of a {@link PartialAggregate}. */
export const PARTIAL_FORMAT = 'ticketflow.partial/1';

/**
 * One micro-batch of a partial processor (`createPipeline({ stage: 'partial' })`), as it travels to the
 * merge stage (`stage: 'merge'`): the batch's aggregator state and, with event-time windows, each
 * window's contribution and each source lane's latest event times, so that the merger computes the
 * watermark over the source's lanes. JSON-safe; sent as the JSON text of one message.
 *
 * This is partial/final aggregation as Spark and Flink do it: partial aggregates are folded where the
 * records are read, and merged (never re-folded) by one final stage.
 */
export interface PartialAggregate {
  /** Always {@link PARTIAL_FORMAT}. */
  readonly format: typeof PARTIAL_FORMAT;
  /** Valid records folded into `state`. */
  readonly records: number;
  /** Records refused (their dead letters were written with the partial). */
  readonly invalidRecords: number;
  /** The batch accumulator, from `encodeState` (its codec id, then its data). */
  readonly state: { readonly codec: string; readonly state: StateData };
  /** The source offsets the batch covers, per lane. */
  readonly range: InputRange;
  /** Processing-time bounds of the batch at the partial processor, ms since the epoch. */
  readonly windowStart: number;
  readonly windowEnd: number;
  /** With event-time windows: the batch's contributions. */
  readonly eventTime?: PartialEventTime;
}

/** The event-time part of a {@link PartialAggregate}. */
export interface PartialEventTime {
  /**
   * Per window name, records of the batch late for it at the partial processor: those without a finite
   * event time (late for every window). Absent in partials written before it was added: none.
   */
  readonly late?: Readonly<Record<string, number>>;
  /** Per source lane, the two largest event times of the batch (largest first; `null`: none). */
  readonly lanes: Readonly<Record<string, readonly [number | null, number | null]>>;
  /** Per window name: its metrics' codec id and its contributions `[start, records, state]`, by start. */
  readonly windows: Readonly<
    Record<
      string,
      { readonly codec: string; readonly contributions: readonly (readonly [number, number, StateData])[] }
    >
  >;
}

/**
 * Parses the JSON text of a {@link PartialAggregate}: the decode step of a merge stage. Anything else
 * is refused with a one-line reason (and goes to the dead letters).
 *
 * @example
 * ```ts
 * const decode = composeSteps(kafkaText, parsePartial);
 * ```
 */
export function parsePartial(text: string): PartialAggregate | Rejection {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return reject('not a partial aggregate: invalid JSON');
  }
  const p = value as Partial<PartialAggregate> | null;
  if (typeof p !== 'object' || p === null || p.format !== PARTIAL_FORMAT) {
    return reject(`not a partial aggregate: expected "format": "${PARTIAL_FORMAT}"`);
  }
  if (
    !Number.isInteger(p.records) ||
    !Number.isInteger(p.invalidRecords) ||
    typeof p.state !== 'object' ||
    p.state === null ||
    typeof p.state.codec !== 'string'
  ) {
    return reject('not a partial aggregate: "records", "invalidRecords" or "state" missing or wrong');
  }
  return p as PartialAggregate;
}
