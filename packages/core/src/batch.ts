import type { FinalWindow } from './event-time';
import type { PartialAggregate } from './partial';
import type { InputRange } from './source';

/** Records of one lane lost before they could be read, as a batch reports them. */
export interface LaneDataLoss {
  /** The lane, such as `client_tickets/0`. */
  readonly lane: string;
  /** The offset the source expected to read next. */
  readonly expected: number;
  /** The first offset still available (the partition's log start offset). */
  readonly firstAvailable: number;
  /** Offsets lost, `firstAvailable - expected` (an upper bound of the records on transactional topics). */
  readonly lost: number;
}

/**
 * The accepted data losses recorded in input ranges, lanes in name order and each lane's gaps in offset
 * order, without duplicates (a replay passes the recorded range and the range it read again). Empty when
 * no range records a gap.
 */
export function dataLossOf(...ranges: readonly InputRange[]): LaneDataLoss[] {
  const seen = new Map<string, LaneDataLoss>();
  for (const range of ranges) {
    for (const [lane, { gaps }] of Object.entries(range)) {
      for (const gap of gaps ?? []) {
        const key = `${lane}\u0000${gap.expected}`;
        if (!seen.has(key))
          seen.set(key, { lane, expected: gap.expected, firstAvailable: gap.firstAvailable, lost: gap.lost });
      }
    }
  }
  return [...seen.values()].sort((a, b) =>
    a.lane === b.lane ? a.expected - b.expected : a.lane < b.lane ? -1 : 1,
  );
}

/** One finished micro-batch, as a sink receives it. */
export interface Batch<M> {
  /** Consecutive from 0 for an output location, continuing across restarts. */
  readonly batchId: number;
  /** When the processing-time window opened (UTC). */
  readonly windowStart: Date;
  /** When it closed (UTC). */
  readonly windowEnd: Date;
  /** Valid records folded into the metrics. */
  readonly records: number;
  /** Invalid records, sent to the dead-letter handler. */
  readonly invalidRecords: number;
  /** The aggregators' results. */
  readonly metrics: M;
  /** The input the batch covers. */
  readonly range: InputRange;
  /**
   * Records lost before they could be read whose loss was accepted (see {@link dataLossOf}); absent or
   * empty when none were.
   */
  readonly dataLoss?: readonly LaneDataLoss[];
  /**
   * With event-time windows: the watermark after this batch (UTC), `null` before any record; the same
   * on a replay. Absent without them.
   */
  readonly watermark?: Date | null;
  /**
   * With event-time windows: per window name, the batch's valid records whose window was already final
   * (it ended at or before the previous batch's watermark). They are counted in the batch's metrics
   * and in no window of that name.
   */
  readonly lateRecords?: Readonly<Record<string, number>>;
  /**
   * With event-time windows: the windows this batch made final, to be written in its transaction;
   * empty when none. A replay makes the same windows final with the same content.
   */
  readonly windows?: readonly FinalWindow[];
  /**
   * In a partial stage (`createPipeline({ stage: 'partial' })`): the batch as a partial aggregate, for
   * the sink to hand on to the merge stage. Absent otherwise.
   */
  readonly partial?: PartialAggregate;
}

/**
 * Where finished batches go. `write` resolves only once the batch is durable; writing the same batch
 * again must give the same result (a replay after a crash rewrites the same file or object).
 */
export interface Sink<M> {
  /** Writes one batch; resolves once it is durable. */
  write(batch: Batch<M>): Promise<void>;
  /** A short description of the destination for logs, such as `./ticket_metrics_json/batch_00042.json`. */
  describe(batchId: number): string;
  /** Where an event-time window's output goes, for logs. Default: its name and start. */
  describeWindow?(window: FinalWindow): string;
  /** Releases resources. */
  close?(): Promise<void>;
}
