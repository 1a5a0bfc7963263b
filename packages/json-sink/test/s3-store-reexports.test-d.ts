import type * as s3Store from '@ticketflow/s3-store';
import { describe, expectTypeOf, it } from 'vitest';
import type * as jsonSink from '../src/index';

describe('the S3 store types @ticketflow/json-sink still exports', () => {
  it('are those of @ticketflow/s3-store', () => {
    expectTypeOf<jsonSink.S3BlobStore>().toEqualTypeOf<s3Store.S3BlobStore>();
    expectTypeOf<jsonSink.S3BlobStoreOptions>().toEqualTypeOf<s3Store.S3BlobStoreOptions>();
    expectTypeOf<jsonSink.S3Location>().toEqualTypeOf<s3Store.S3Location>();
    expectTypeOf<jsonSink.S3Operation>().toEqualTypeOf<s3Store.S3Operation>();
    expectTypeOf<jsonSink.S3RetryEvent>().toEqualTypeOf<s3Store.S3RetryEvent>();
    expectTypeOf<jsonSink.S3RetryOptions>().toEqualTypeOf<s3Store.S3RetryOptions>();
    expectTypeOf<typeof jsonSink.s3BlobStore>().toEqualTypeOf<typeof s3Store.s3BlobStore>();
    expectTypeOf<typeof jsonSink.parseS3Url>().toEqualTypeOf<typeof s3Store.parseS3Url>();
  });
});
