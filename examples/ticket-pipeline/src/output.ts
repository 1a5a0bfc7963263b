import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BlobStore, InvalidOptionError, localBlobStore, TicketflowError } from '@ticketflow/core';
import { parseS3Url, type S3RetryEvent, s3BlobStore } from '@ticketflow/s3-store';

/** An output location, resolved. */
export interface Output {
  /** Where batch files go. */
  readonly store: BlobStore;
  /** The local folder, when the output is local; `undefined` for S3. */
  readonly folder: string | undefined;
  /** True for an `s3://` location. */
  readonly remote: boolean;
  /**
   * Checks, before any work, that the location can be used: for S3, that the bucket exists and the
   * credentials may list it. Rejects with a one-line TicketflowError.
   */
  check(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Options of {@link openOutput}. */
export interface OpenOutputOptions {
  /** The setting's name for error messages. Default `'--out'`. */
  readonly setting?: string;
  /** Called before an S3 request is retried, for logs. */
  readonly onRetry?: (event: S3RetryEvent) => void;
}

/**
 * Resolves `--out` (a folder, a `file://` URL, or `s3://bucket/prefix`) to a blob store. For S3 the
 * credentials and region come from the standard AWS chain and the endpoint from `AWS_ENDPOINT_URL_S3`
 * or `AWS_ENDPOINT_URL` (path-style addressing then).
 */
export function openOutput(location: string, options: OpenOutputOptions = {}): Output {
  const setting = options.setting ?? '--out';
  if (location.startsWith('s3://')) {
    // The SDK prints a multi-line notice on Node.js 20 (its 2027 releases will need Node.js 22);
    // the CLI keeps its one-line errors. Set the variable to `false` to see the notice.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const store = s3BlobStore({
      ...parseS3Url(location, setting),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
    return { store, folder: undefined, remote: true, check: () => store.check(), close: () => store.close() };
  }
  let folder = location;
  if (location.startsWith('file://')) folder = fileURLToPath(location);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new InvalidOptionError(
      `${setting} must be a folder, file:// or s3://bucket/prefix, got ${JSON.stringify(location)}`,
    );
  }
  return {
    store: localBlobStore(folder),
    folder,
    remote: false,
    check: () => createFolder(folder),
    close: async () => {},
  };
}

/**
 * Creates a local folder and its parents one level at a time, or checks that it exists, before any work:
 * a recursive `mkdir` spins for ever on a file system that answers ENOENT for a folder whose parent
 * exists (procfs, sysfs, some FUSE mounts), which is refused here with a one-line error naming the
 * path and the way out. Other failures are left to the first write and its retry policy.
 */
export async function createFolder(folder: string): Promise<void> {
  const target = resolve(folder);
  const levels: string[] = [];
  for (let path = target; ; path = dirname(path)) {
    levels.unshift(path);
    if (dirname(path) === path) break;
  }
  for (const path of levels) {
    try {
      await mkdir(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code === 'ENOENT') {
        throw new TicketflowError(
          'SINK_FAILED',
          `cannot create the folder ${path}: its file system does not take new folders there (ENOENT): use a folder on an ordinary file system`,
        );
      }
      // Any other failure (a file in the way, no permission, a mount not ready yet) is met again by the
      // first write, which names it and follows the retry policy (--sink-retry-for).
      return;
    }
  }
}

/** The default dead-letter file of a local output: beside the batch files, ignored by query engines. */
export function defaultDeadLetterPath(output: Output, fallback: string): string {
  return output.folder === undefined ? fallback : join(output.folder, '_dead_letters.jsonl');
}
