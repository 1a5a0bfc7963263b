import type { BatchProgress, FinalWindowProgress } from './progress';
import type { RecoveryEvent, RetryEvent } from './retry';

/** Consumer lag of one lane: records in the input not read yet. */
export interface LaneLag {
  /** The lane, such as `client_tickets/0`. */
  readonly lane: string;
  /** Records (offsets) between the source's position and the end of the lane's input; 0 when caught up. */
  readonly lag: number;
}

/** What a source says about itself (see `Source.status$`). */
export interface SourceStatus {
  /** Whether the source reaches its input (a Kafka source: its brokers); absent when it cannot tell. */
  readonly connected?: boolean;
  /** Lag per lane, lanes in name order; absent when the source cannot tell. */
  readonly lag?: readonly LaneLag[];
}

/**
 * One event of a running pipeline, on {@link Pipeline.events$}: the one stream that logs, health checks,
 * metrics and dashboards observe.
 *
 * - `started`: the checkpoint is read and the source opened (names both, for logs);
 * - `batch-committed`: a batch is written, committed and acknowledged (its {@link BatchProgress});
 * - `window-finalized`: an event-time window was made final and written in that batch's transaction
 *   (emitted just after its batch's `batch-committed`);
 * - `records-read`: the source delivered a chunk of records of one lane;
 * - `source-status`: the source's connection and lag, whenever it reports them;
 * - `retrying` / `recovered`: a durable step failed and is attempted again / succeeded after failures;
 * - `stopping`: {@link Pipeline.stop} was called; the open batch is being written.
 */
export type PipelineEvent =
  | { readonly type: 'started'; readonly source: string; readonly checkpoint: string }
  | { readonly type: 'batch-committed'; readonly batch: BatchProgress }
  | { readonly type: 'window-finalized'; readonly batchId: number; readonly window: FinalWindowProgress }
  | { readonly type: 'records-read'; readonly lane: string; readonly records: number }
  | { readonly type: 'source-status'; readonly status: SourceStatus }
  | { readonly type: 'retrying'; readonly retry: RetryEvent }
  | { readonly type: 'recovered'; readonly recovery: RecoveryEvent }
  | { readonly type: 'stopping' };

/** The type of one kind of {@link PipelineEvent}. */
export type PipelineEventOf<K extends PipelineEvent['type']> = Extract<PipelineEvent, { readonly type: K }>;
