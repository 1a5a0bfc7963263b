import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { Observable } from 'rxjs';
import { TicketflowError } from './errors';
import { packedChunk, prefersPackedLines } from './internal/packed-lines';
import type { RecordChunk, Source } from './source';

/** The reason a line whose bytes are not UTF-8 is refused with. */
const NOT_UTF8 = 'line is not valid UTF-8';

/** Options of {@link lineSource}. */
export interface LineSourceOptions {
  /** A file path, or `'-'` for standard input. */
  readonly path: string;
  /** The lane name of every record. Default `'input'`. */
  readonly lane?: string;
  /** Bytes read at a time. Default 1 MiB. */
  readonly readSize?: number;
  /** A readable stream to use instead of opening `path` (for `'-'`, standard input). */
  readonly stream?: NodeJS.ReadableStream;
  /**
   * Called after each block is read, with the totals so far: for a progress display (a percentage of
   * the file's size, an ETA). Default: nothing.
   */
  readonly onRead?: (read: LineSourceRead) => void;
}

/** What a {@link lineSource} has read so far. */
export interface LineSourceRead {
  /** Bytes read, skipped lines included. */
  readonly bytes: number;
  /** Records emitted (non-empty lines at or past the checkpoint). */
  readonly records: number;
}

/**
 * A {@link Source} over a text file of one record per line (JSON Lines, for instance). A record's offset
 * is its 0-based line number, so a checkpoint resumes at the right line; empty lines are skipped. The
 * file is read in large blocks and emitted as one chunk per block. A line whose bytes are not valid
 * UTF-8 is refused (see {@link RecordChunk.rejected}) with the reason `line is not valid UTF-8`; its
 * dead letter holds the text with U+FFFD in place of the bad bytes.
 *
 * @example
 * ```ts
 * const source = lineSource({ path: 'tickets.jsonl' });
 * ```
 */
export function lineSource(options: LineSourceOptions): Source<string> {
  const lane = options.lane ?? 'input';
  const readSize = options.readSize ?? 1 << 20;
  const name = options.path === '-' ? 'stdin' : `file:${options.path}`;
  return {
    name,
    open(context) {
      return new Observable<RecordChunk<string>>((subscriber) => {
        const stream: NodeJS.ReadableStream =
          options.stream ??
          (options.path === '-'
            ? process.stdin
            : createReadStream(options.path, { highWaterMark: readSize }));
        const floor = context.startAt[lane] ?? 0;
        const packed = prefersPackedLines(context);
        // Lines are decoded one by one from the bytes, not as whole blocks: a block holding a single
        // non-ASCII character would decode to a two-byte string, and every line sliced from it would be
        // slower to parse. A newline byte never occurs inside a multi-byte character, so each line decodes
        // on its own.
        let carry: Buffer | undefined;
        let line = 0;
        let bytesRead = 0;
        let records = 0;
        const emit = (block: Buffer, final: boolean) => {
          bytesRead += block.length;
          const bytes = carry === undefined ? block : Buffer.concat([carry, block]);
          carry = undefined;
          const offsets: number[] = [];
          const bounds: number[] = [];
          let rejected: Map<number, string> | undefined;
          // Most blocks are valid UTF-8 as a whole: one fast check, and lines are checked one by one only
          // in a block that is not.
          const complete = final ? bytes.length : bytes.lastIndexOf(10) + 1;
          const checkLines = !isUtf8(bytes.subarray(0, complete));
          const push = (start: number, stop: number) => {
            if (checkLines && !isUtf8(bytes.subarray(start, stop))) {
              rejected ??= new Map();
              rejected.set(offsets.length, NOT_UTF8);
            }
            bounds.push(start, stop);
            offsets.push(line);
          };
          let start = 0;
          for (;;) {
            const end = bytes.indexOf(10, start);
            if (end === -1) break;
            const stop = end > start && bytes[end - 1] === 13 ? end - 1 : end;
            if (stop > start && line >= floor) push(start, stop);
            line += 1;
            start = end + 1;
          }
          if (start < bytes.length) {
            if (final) {
              const stop = bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
              if (stop > start && line >= floor) push(start, stop);
              line += 1;
            } else {
              carry = Buffer.from(bytes.subarray(start));
            }
          }
          records += offsets.length;
          options.onRead?.({ bytes: bytesRead, records });
          if (offsets.length === 0) return;
          if (packed) {
            // Worker threads make the strings, from the bytes.
            subscriber.next(packedChunk(lane, { bytes, bounds: Int32Array.from(bounds) }, offsets, rejected));
            return;
          }
          const values = new Array<string>(offsets.length);
          for (let i = 0; i < values.length; i++)
            values[i] = bytes.toString('utf8', bounds[2 * i] as number, bounds[2 * i + 1] as number);
          subscriber.next(rejected ? { lane, values, offsets, rejected } : { lane, values, offsets });
        };
        const onData = (block: Buffer | string) => {
          emit(typeof block === 'string' ? Buffer.from(block) : block, false);
        };
        const onEnd = () => {
          emit(Buffer.alloc(0), true);
          subscriber.complete();
        };
        const onError = (error: Error) => {
          const code = (error as NodeJS.ErrnoException).code;
          subscriber.error(
            new TicketflowError(
              code === 'ENOENT' ? 'STORAGE_NOT_FOUND' : 'SOURCE_FAILED',
              code === 'ENOENT'
                ? `input file not found: ${options.path}`
                : `cannot read ${name}: ${error.message}`,
              { cause: error },
            ),
          );
        };
        const onAbort = () => {
          stream.removeListener('data', onData);
          stream.removeListener('end', onEnd);
          subscriber.complete();
        };
        const pressure = context.pressure.subscribe((paused) => (paused ? stream.pause() : stream.resume()));
        stream.on('data', onData);
        stream.once('end', onEnd);
        stream.once('error', onError);
        if (context.signal.aborted) onAbort();
        else context.signal.addEventListener('abort', onAbort, { once: true });
        return () => {
          pressure.unsubscribe();
          context.signal.removeEventListener('abort', onAbort);
          stream.removeListener('data', onData);
          stream.removeListener('end', onEnd);
          stream.removeListener('error', onError);
          if (stream !== process.stdin && 'destroy' in stream) (stream as { destroy(): void }).destroy();
          // Standard input stays open for the process, but unread, so that it no longer keeps it alive.
          else stream.pause();
        };
      });
    },
    acknowledge: async () => {},
  };
}
