import type { Observable } from 'rxjs';
import type { SourceStatus } from './pipeline-events';

/**
 * Records of one lane that were gone before they could be read (deleted by retention or `DeleteRecords`),
 * and whose loss was accepted (a Kafka source's `onDataLoss: 'continue'`).
 */
export interface DataGap {
  /** The offset the source expected to read next (where the checkpoint or the group said to resume). */
  readonly expected: number;
  /** The first offset the broker still had (the partition's log start offset). */
  readonly firstAvailable: number;
  /**
   * `firstAvailable - expected`: the offsets lost. On a transactional topic some of them may have been
   * control records (transaction markers), so this is an upper bound of the records lost.
   */
  readonly lost: number;
}

/** An inclusive range of offsets read from one lane. */
export interface OffsetRange {
  /** The first offset. */
  readonly from: number;
  /** The last offset (inclusive). */
  readonly to: number;
  /** Accepted losses of records just before or within this range, in offset order. Default: none. */
  readonly gaps?: readonly DataGap[];
}

/** The records of one batch: for each lane that contributed, the offsets it read. */
export type InputRange = Readonly<Record<string, OffsetRange>>;

/** For each lane, the offset of the next record to read. */
export type Positions = Readonly<Record<string, number>>;

/**
 * A run of records from one lane (a Kafka partition, a file), in offset order. Sources emit chunks
 * rather than single records so that the per-record cost of the engine stays a plain loop.
 */
export interface RecordChunk<R> {
  /** The lane every record of the chunk comes from, such as `client_tickets/0`. */
  readonly lane: string;
  /** The records' raw values. */
  readonly values: readonly R[];
  /** One offset per value, strictly ascending. */
  readonly offsets: ArrayLike<number>;
  /**
   * Records the source itself could not decode, by index into `values`, with the reason (for instance
   * a line whose bytes are not UTF-8). The engine counts them as invalid and sends them to the dead
   * letters without calling `decode`. Default: none.
   */
  readonly rejected?: ReadonlyMap<number, string>;
  /**
   * The lane's position after this chunk, when the source knows it to be past the chunk's last offset:
   * every offset below it is accounted for (read before, counted by another consumer of the group, or
   * lost). `Infinity` when the source stops reading the lane (a rebalance gave it to another member).
   * A chunk may carry no values and only a position: a replayed batch then stops waiting for records of
   * that lane below the position. Default: the last offset of `values` plus one.
   */
  readonly position?: number;
  /**
   * Records lost just before the first value of this chunk, whose loss the source accepted: the engine
   * records the gap in the range of the batch that holds that value. Default: none.
   */
  readonly gap?: DataGap;
}

/** What the engine tells a source when it opens it. */
export interface SourceContext {
  /**
   * For each lane the checkpoint knows, the offset to start from: after the last committed batch, or
   * at the start of a batch being replayed. Lanes absent here start where the source's own default
   * says (for Kafka, the consumer group's committed offset or the earliest one).
   */
  readonly startAt: Positions;
  /** Aborted when the pipeline is asked to stop: the source then completes its observable. */
  readonly signal: AbortSignal;
  /**
   * Emits `true` when batches wait to be written faster than the sink writes them and the source should
   * pause reading, `false` when it may resume. Sources that cannot pause may ignore it.
   */
  readonly pressure: Observable<boolean>;
  /**
   * Closes the open window now and resolves once every batch opened so far is written, checkpointed
   * and acknowledged. A source calls it before it gives lanes up (a Kafka rebalance), so that nothing
   * read from them is lost or counted twice.
   */
  flush(): Promise<void>;
}

/**
 * Where records come from. The engine opens it once per run, reads chunks, and acknowledges each batch
 * only after the sink has durably written it and the checkpoint has recorded it.
 */
export interface Source<R> {
  /** A short name for logs, such as `kafka:client_tickets` or `file:tickets.jsonl`. */
  readonly name: string;
  /** Starts reading. The observable completes when the source is exhausted or `context.signal` aborts. */
  open(context: SourceContext): Observable<RecordChunk<R>>;
  /**
   * Called once a batch is durably written: the source may now forget (for Kafka, commit) every offset
   * of `range`. `positions` holds, for every lane, the next offset to read after this batch.
   */
  acknowledge(range: InputRange, positions: Positions): Promise<void>;
  /** Releases connections and handles. Called once, after the last acknowledgement. */
  close?(): Promise<void>;
  /**
   * The source's connection and lag, as they change or periodically; the pipeline subscribes while it
   * runs and passes each one on as a `source-status` event. Default: none.
   */
  readonly status$?: Observable<SourceStatus>;
}
