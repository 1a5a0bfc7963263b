export {
  BATCH_LAYOUTS,
  type BatchKeyOptions,
  type BatchLayout,
  batchFileName,
  batchKey,
} from './batch-key';
export { type BlobDeadLetterOptions, blobDeadLetters } from './blob-dead-letters';
export { deadLetterFile } from './dead-letter-file';
export { defaultBatchFormat, type JsonSinkOptions, jsonSink } from './json-sink';
export {
  parseS3Url,
  type S3BlobStore,
  type S3BlobStoreOptions,
  type S3Location,
  type S3Operation,
  type S3RetryEvent,
  type S3RetryOptions,
  s3BlobStore,
} from './s3-blob-store';
