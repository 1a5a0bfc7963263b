import { join } from 'node:path';
import { type BlobStore, localBlobStore } from '@ticketflow/core';

/** An output location, resolved. */
export interface Output {
  /** Where batch files go. */
  readonly store: BlobStore;
  /** The local folder, when the output is local. */
  readonly folder: string | undefined;
}

/** Resolves `--out` (a folder, or later an `s3://bucket/prefix` URL) to a blob store. */
export function openOutput(location: string): Output {
  return { store: localBlobStore(location), folder: location };
}

/** The default dead-letter file of a local output: beside the batch files, ignored by query engines. */
export function defaultDeadLetterPath(output: Output, fallback: string): string {
  return output.folder === undefined ? fallback : join(output.folder, '_dead_letters.jsonl');
}
