import type { RecordChunk } from '../source';

/**
 * A chunk of text lines that still holds their bytes: `lineSource` attaches it under this key, so that
 * the parallel fold stage sends the bytes to a worker thread (which makes the strings) instead of
 * making a string per line here and copying it.
 */
export const PACKED_LINES: unique symbol = Symbol('ticketflow.packed-lines');

/** The bytes of a chunk's lines: line `i` is `bytes[bounds[2i] .. bounds[2i + 1])`. */
export interface PackedLines {
  readonly bytes: Uint8Array;
  readonly bounds: Int32Array;
}

/**
 * Set on the `SourceContext` of a pipeline whose records go to worker threads: a source of text lines
 * may then emit packed chunks ({@link packedChunk}); otherwise it makes each line's string at once (a
 * chunk that keeps its bytes keeps them alive while the records are folded on this thread).
 */
export const PREFERS_PACKED_LINES: unique symbol = Symbol('ticketflow.prefers-packed-lines');

/** True when the pipeline that opened a source sends its records to worker threads. */
export function prefersPackedLines(context: object): boolean {
  return (context as { readonly [PREFERS_PACKED_LINES]?: boolean })[PREFERS_PACKED_LINES] === true;
}

/** The packed lines of a chunk, when its source kept them. */
export function packedLinesOf(chunk: RecordChunk<unknown>): PackedLines | undefined {
  return (chunk as { readonly [PACKED_LINES]?: PackedLines })[PACKED_LINES];
}

/**
 * A chunk of text lines whose `values` (one string per line) are made on first use, and whose bytes
 * stay available as {@link PACKED_LINES}.
 */
export function packedChunk(
  lane: string,
  packed: PackedLines,
  offsets: readonly number[],
  rejected: ReadonlyMap<number, string> | undefined,
): RecordChunk<string> {
  let values: string[] | undefined;
  const { bytes, bounds } = packed;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    lane,
    offsets,
    ...(rejected ? { rejected } : {}),
    get values(): readonly string[] {
      if (values === undefined) {
        values = new Array<string>(offsets.length);
        for (let i = 0; i < offsets.length; i++)
          values[i] = text.toString('utf8', bounds[2 * i] as number, bounds[2 * i + 1] as number);
      }
      return values;
    },
    [PACKED_LINES]: packed,
  } as RecordChunk<string>;
}
