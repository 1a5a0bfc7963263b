import * as s3Store from '@ticketflow/s3-store';
import { describe, expect, it } from 'vitest';
import * as jsonSink from '../src/index';

// The S3 store moved to @ticketflow/s3-store; the names it had here stay, deprecated, for existing code.
// Their types are checked in s3-store-reexports.test-d.ts.
describe('the S3 store functions @ticketflow/json-sink still exports', () => {
  it('are those of @ticketflow/s3-store', () => {
    expect(jsonSink.s3BlobStore).toBe(s3Store.s3BlobStore);
    expect(jsonSink.parseS3Url).toBe(s3Store.parseS3Url);
    expect(jsonSink.parseS3Url('s3://analytics/tickets')).toEqual({
      bucket: 'analytics',
      prefix: 'tickets/',
    });
  });
});
