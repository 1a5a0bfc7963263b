/** How long each step of a batch took, in ms. */
export interface BatchDurations {
  /** Decoding and folding the window's records, spread over the window. */
  readonly fold: number;
  /** Recording the batch's plan in the checkpoint. */
  readonly plan: number;
  /** Making the dead letters durable. */
  readonly deadLetters: number;
  /** Writing the batch to the sink. */
  readonly write: number;
  /** Marking the batch committed in the checkpoint. */
  readonly commit: number;
  /** Acknowledging the input to the source. */
  readonly acknowledge: number;
  /** All of the above. */
  readonly total: number;
}

/**
 * The progress report of one committed batch: what it read, how fast, and where the time went.
 */
export interface BatchProgress {
  /** The batch id. */
  readonly batchId: number;
  /** The window's opening time. */
  readonly windowStart: Date;
  /** The window's closing time. */
  readonly windowEnd: Date;
  /** Records read, valid and invalid. */
  readonly inputRecords: number;
  /** Valid records folded. */
  readonly records: number;
  /** Invalid records sent to the dead-letter handler. */
  readonly invalidRecords: number;
  /** Records read per second of window time. */
  readonly inputRecordsPerSecond: number;
  /** Records per second of processing time (folding plus committing). */
  readonly processedRecordsPerSecond: number;
  /** Step durations, in ms. */
  readonly durationMs: BatchDurations;
  /** True when the batch was rebuilt after a crash. */
  readonly replayed: boolean;
  /**
   * Records lost before they could be read and accepted into this batch (the sum of its data losses'
   * `lost`); 0 or absent when none were.
   */
  readonly lostRecords?: number;
  /** Where the sink wrote it. */
  readonly output: string;
  /** With event-time windows: the watermark after the batch; `null` before any record. */
  readonly watermark?: Date | null;
  /** With event-time windows: per window name, the batch's late records. */
  readonly lateRecords?: Readonly<Record<string, number>>;
  /** With event-time windows: those the batch made final, and where the sink wrote them. */
  readonly windows?: readonly FinalWindowProgress[];
  /** With event-time windows: those still open after the batch, by name then start. */
  readonly openWindows?: readonly OpenWindowProgress[];
  /** The batch's metrics, as the sink received them (the aggregators' results). */
  readonly metrics?: unknown;
  /** In a merge stage: how many partial aggregates the batch merged. */
  readonly partials?: number;
}

/** An event-time window still open after a batch, as progress reports it. */
export interface OpenWindowProgress {
  /** The window's name, such as `'hourly'`. */
  readonly name: string;
  /** Its start (inclusive), UTC. */
  readonly windowStart: Date;
  /** Its end (exclusive), UTC. */
  readonly windowEnd: Date;
  /** Records it holds so far. */
  readonly records: number;
}

/** An event-time window a batch made final, as progress reports it. */
export interface FinalWindowProgress {
  /** The window's name, such as `'hourly'`. */
  readonly name: string;
  /** Its start (inclusive), UTC. */
  readonly windowStart: Date;
  /** Its end (exclusive), UTC. */
  readonly windowEnd: Date;
  /** Records it holds. */
  readonly records: number;
  /** Where the sink wrote it (see `Sink.describeWindow`); the window's name and start otherwise. */
  readonly output: string;
}

/** The totals of a finished run. */
export interface RunSummary {
  /** Batches committed in this run. */
  readonly batches: number;
  /** Valid records in those batches. */
  readonly records: number;
  /** Invalid records in those batches. */
  readonly invalidRecords: number;
  /** The id of the last batch committed in this run, or `undefined` when none was. */
  readonly lastBatchId: number | undefined;
}
