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
