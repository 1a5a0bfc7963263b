export {
  type AccumulatorOf,
  type Aggregator,
  type AnyAggregator,
  fold,
  type InputOf,
  mapResult,
  type ResultOf,
  type StateCodec,
  type StateData,
} from './aggregator';
export { count } from './aggregators/count';
export { countBy, type KeyCount } from './aggregators/count-by';
export { max, min } from './aggregators/extremes';
export { groupBy, type KeyValue } from './aggregators/group-by';
export { type MeanState, mean } from './aggregators/mean';
export { type MetricsInput, type MetricsResult, metrics } from './aggregators/metrics';
export { median, type QuantileOptions, quantile, quantiles } from './aggregators/quantiles';
export { sum } from './aggregators/sum';
export {
  type DigestOptions,
  type DigestQuantiles,
  type DigestResult,
  digest,
  type TDigestOptions,
  tdigest,
} from './aggregators/tdigest';
export { type Batch, dataLossOf, type LaneDataLoss, type Sink } from './batch';
export type { BlobStore } from './blob-store';
export {
  type BatchPlan,
  type BlobCheckpointOptions,
  blobCheckpointStore,
  type CheckpointState,
  type CheckpointStore,
} from './checkpoint';
export { type DeadLetter, type DeadLetterHandler, discardDeadLetters } from './dead-letter';
export { type Duration, MAX_DURATION_MS, toMilliseconds } from './duration';
export {
  describeValue,
  ERROR_CODES,
  type ErrorCode,
  firstLine,
  InvalidOptionError,
  TicketflowError,
  type TicketflowErrorOptions,
  toTicketflowError,
} from './errors';
export {
  type EventTimeOptions,
  type EventTimeState,
  type FinalWindow,
  type TumblingWindow,
  type TumblingWindowOptions,
  tumblingWindow,
} from './event-time';
export {
  QuantileSketch,
  type QuantileSketchJSON,
  type QuantileSketchOptions,
  type TrinoTDigestOptions,
} from './internal/quantile-sketch';
export { acquireLease, type Lease, type LeaseHolder, type LeaseOptions, type LeaseRecord } from './lease';
export { type LineSourceOptions, type LineSourceRead, lineSource } from './line-source';
export { localBlobStore } from './local-blob-store';
export { memoryCheckpointStore } from './memory-checkpoint-store';
export {
  type BatchEventTime,
  type MicroBatchOptions,
  microBatch,
  type ReplayWindow,
  type WindowBatch,
} from './micro-batch';
export {
  PARTIAL_FORMAT,
  type PartialAggregate,
  type PartialEventTime,
  parsePartial,
} from './partial';
export {
  createPipeline,
  type MergePipelineOptions,
  type Pipeline,
  type PipelineOptions,
  type WindowOptions,
} from './pipeline';
export type { LaneLag, PipelineEvent, PipelineEventOf, SourceStatus } from './pipeline-events';
export type {
  BatchDurations,
  BatchProgress,
  FinalWindowProgress,
  OpenWindowProgress,
  RunSummary,
} from './progress';
export { isRejection, type RecordContext, Rejection, reject, type Step } from './rejection';
export {
  type DurableStep,
  isPermanent,
  type RecoveryEvent,
  type RetryEvent,
  type RetryOptions,
  type RetryPolicy,
  retryPolicy,
} from './retry';
export type {
  DataGap,
  InputRange,
  OffsetRange,
  Positions,
  RecordChunk,
  Source,
  SourceContext,
} from './source';
export { decodeState, encodeState, type SavedState, stateCodecOf } from './state-codec';
export { composeSteps } from './steps';
export { type FileAction, fileSystemError } from './storage-error';
export { type FoldDefinition, foldWorker, type RecordText, type WorkerOptions } from './workers';
