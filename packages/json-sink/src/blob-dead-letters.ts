import type { BlobStore, DeadLetter, DeadLetterHandler } from '@ticketflow/core';
import { deadLetterLine } from './dead-letter-line';

/** Options of {@link blobDeadLetters}. */
export interface BlobDeadLetterOptions {
  /** Key prefix of the dead-letter objects inside the store. Default `'_dead_letters/'`. */
  readonly prefix?: string;
  /**
   * Bytes of dead letters kept in memory before they are written as an object without waiting for a
   * flush. Default 4 MiB.
   */
  readonly highWaterBytes?: number;
}

/** A lane name as a key segment: every character outside `A-Z a-z 0-9 . _ -` becomes `_`. */
function laneSegment(lane: string): string {
  return lane.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * A {@link DeadLetterHandler} for object stores (S3), where nothing can be appended: the letters written
 * since the last flush are put as one JSON Lines object, `{"reason":…,"lane":…,"offset":…,"value":…}`
 * per line, named after the first letter it holds: `_dead_letters/<lane>-<offset, 12 digits>.jsonl`
 * (a lane's `/` and other unsafe characters become `_`). A batch replayed after a crash refuses the
 * same records again and so mostly rewrites the same objects; where a replay groups letters
 * differently, a letter may appear in two objects, and its `lane` and `offset` identify the repeat.
 * `flush` resolves once every object is confirmed by the store.
 *
 * @example
 * ```ts
 * const deadLetters = blobDeadLetters(s3BlobStore(parseS3Url('s3://analytics/tickets')));
 * ```
 */
export function blobDeadLetters(
  store: BlobStore,
  options: BlobDeadLetterOptions = {},
): DeadLetterHandler<unknown> & { readonly location: string } {
  const prefix = options.prefix ?? '_dead_letters/';
  const highWater = options.highWaterBytes ?? 4 << 20;
  let lines: string[] = [];
  let bytes = 0;
  let first: DeadLetter<unknown> | undefined;
  let writing: Promise<void> = Promise.resolve();
  let failure: unknown;
  /** Objects whose put failed: a later flush puts them again (the pipeline's retry policy calls it). */
  let failed: Array<readonly [string, string]> = [];

  const putLater = (key: string, body: string): Promise<void> => {
    writing = writing
      .catch(() => {})
      .then(() => store.put(key, body))
      .catch((error: unknown) => {
        failed.push([key, body]);
        failure ??= error;
        throw error;
      });
    writing.catch(() => {});
    return writing;
  };
  const seal = (): Promise<void> => {
    if (first === undefined) return writing;
    const key = `${prefix}${laneSegment(first.lane)}-${String(first.offset).padStart(12, '0')}.jsonl`;
    const body = lines.join('');
    lines = [];
    bytes = 0;
    first = undefined;
    return putLater(key, body);
  };
  return {
    location: store.describe(prefix),
    write(letter) {
      const line = deadLetterLine(letter);
      first ??= letter;
      lines.push(line);
      bytes += Buffer.byteLength(line);
      if (bytes >= highWater) void seal();
    },
    async flush() {
      await writing.catch(() => {});
      const again = failed;
      failed = [];
      failure = undefined;
      for (const [key, body] of again) void putLater(key, body);
      await seal().catch(() => {});
      await writing.catch(() => {});
      if (failure !== undefined) throw failure;
    },
    async close() {
      await this.flush();
    },
  };
}
