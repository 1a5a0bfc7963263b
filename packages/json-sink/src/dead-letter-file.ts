import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeadLetter, DeadLetterHandler } from '@ticketflow/core';
import { deadLetterLine } from './dead-letter-line';

/** Bytes of dead letters kept in memory before they are written out without waiting for a flush. */
const HIGH_WATER_BYTES = 4 << 20;

/**
 * A {@link DeadLetterHandler} appending one JSON line per invalid record to a local file:
 * `{"reason":…,"lane":…,"offset":…,"value":…}`. `flush` writes and fsyncs what is buffered.
 *
 * @example
 * ```ts
 * const deadLetters = deadLetterFile('./ticket_metrics_json/_dead_letters.jsonl');
 * ```
 */
export function deadLetterFile(path: string): DeadLetterHandler<unknown> & { readonly path: string } {
  let buffered: string[] = [];
  let bufferedBytes = 0;
  let handle: Promise<import('node:fs/promises').FileHandle> | undefined;
  let writing: Promise<void> = Promise.resolve();

  const file = () => {
    handle ??= mkdir(dirname(path), { recursive: true }).then(() => open(path, 'a'));
    return handle;
  };
  const drain = (sync: boolean): Promise<void> => {
    const lines = buffered;
    buffered = [];
    bufferedBytes = 0;
    writing = writing
      .catch(() => {})
      .then(async () => {
        if (lines.length === 0 && !sync) return;
        const fh = await file().catch((error: unknown) => {
          handle = undefined;
          throw error;
        });
        if (lines.length > 0) await fh.appendFile(lines.join(''));
        if (sync) await fh.sync();
      })
      .catch((error: unknown) => {
        // Kept for the next flush, which the pipeline's retry policy calls: a line may then be written
        // twice (its lane and offset identify the repeat), never lost.
        buffered = [...lines, ...buffered];
        bufferedBytes += lines.reduce((n, line) => n + line.length, 0);
        throw error;
      });
    writing.catch(() => {});
    return writing;
  };
  return {
    path,
    write(letter: DeadLetter<unknown>) {
      const line = deadLetterLine(letter);
      buffered.push(line);
      bufferedBytes += line.length;
      if (bufferedBytes >= HIGH_WATER_BYTES) void drain(false);
    },
    async flush() {
      await writing.catch(() => {});
      if (buffered.length === 0 && handle === undefined) return;
      await drain(true);
    },
    async close() {
      await this.flush();
      if (handle !== undefined) await (await handle).close();
      handle = undefined;
    },
  };
}
