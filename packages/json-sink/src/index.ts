import * as s3Store from '@ticketflow/s3-store';

export {
  BATCH_LAYOUTS,
  type BatchKeyOptions,
  type BatchLayout,
  batchFileName,
  batchKey,
  type WindowKeyInput,
  windowKey,
} from './batch-key';
export { type BlobDeadLetterOptions, blobDeadLetters } from './blob-dead-letters';
export { deadLetterFile } from './dead-letter-file';
export { defaultBatchFormat, defaultWindowFormat, type JsonSinkOptions, jsonSink } from './json-sink';

// The S3 store moved to @ticketflow/s3-store, since the checkpoint, the lease and dead letters use it
// too. Its names stay here, the same functions and types, so that existing imports keep working.

/** @deprecated Moved to `@ticketflow/s3-store`: import `s3BlobStore` from there. */
export const s3BlobStore: typeof s3Store.s3BlobStore = s3Store.s3BlobStore;
/** @deprecated Moved to `@ticketflow/s3-store`: import `parseS3Url` from there. */
export const parseS3Url: typeof s3Store.parseS3Url = s3Store.parseS3Url;
/** @deprecated Moved to `@ticketflow/s3-store`: import `S3BlobStore` from there. */
export type S3BlobStore = s3Store.S3BlobStore;
/** @deprecated Moved to `@ticketflow/s3-store`: import `S3BlobStoreOptions` from there. */
export type S3BlobStoreOptions = s3Store.S3BlobStoreOptions;
/** @deprecated Moved to `@ticketflow/s3-store`: import `S3Location` from there. */
export type S3Location = s3Store.S3Location;
/** @deprecated Moved to `@ticketflow/s3-store`: import `S3Operation` from there. */
export type S3Operation = s3Store.S3Operation;
/** @deprecated Moved to `@ticketflow/s3-store`: import `S3RetryEvent` from there. */
export type S3RetryEvent = s3Store.S3RetryEvent;
/** @deprecated Moved to `@ticketflow/s3-store`: import `S3RetryOptions` from there. */
export type S3RetryOptions = s3Store.S3RetryOptions;
