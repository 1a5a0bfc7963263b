import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  blobCheckpointStore,
  count,
  createPipeline,
  type DeadLetter,
  type DeadLetterHandler,
  lineSource,
  localBlobStore,
  metrics,
  microBatch,
  sum,
} from '../src/index';
import { memorySink } from '../src/testing/index';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-decode-throws-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `JSON.parse` throws on `text`, as `name: message`. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  throw new Error(`${text} is JSON`);
}

function collectingDeadLetters(): DeadLetterHandler<string> & { letters: DeadLetter<string>[] } {
  const letters: DeadLetter<string>[] = [];
  return { letters, write: (letter) => letters.push(letter), flush: async () => {} };
}

/** Runs `values` of one lane through a micro-batch that sums what `decode` gives: its batches and dead letters. */
async function decodeThrough(values: number[], decode: (n: number) => number) {
  const { from } = await import('rxjs');
  const letters: DeadLetter<number>[] = [];
  const batches: Array<{ records: number; invalidRecords: number }> = [];
  await new Promise<void>((done, fail) =>
    from([{ lane: 'l', values, offsets: values.map((_, i) => i) }])
      .pipe(
        microBatch<number, number, number>({
          aggregator: { init: () => 0, add: (a, n) => a + n, merge: (a, b) => a + b, result: (a) => a },
          decode,
          onRejected: (letter) => letters.push(letter),
        }),
      )
      .subscribe({ next: (b) => batches.push(b), error: fail, complete: done }),
  );
  return { batches, letters };
}

describe('a decode step that throws', () => {
  it('refuses only that record, with the error as its reason, and the stream goes on', async () => {
    const path = join(dir, 'orders.jsonl');
    await writeFile(path, ['{"n":1}', 'not json', '{"n":2}', '{"n":', '{"n":4}'].join('\n'));
    const spec = metrics({ total: count(), sum: sum((o: { n: number }) => o.n) });
    const sink = memorySink<ReturnType<typeof spec.result>>();
    const deadLetters = collectingDeadLetters();
    const out = localBlobStore(join(dir, 'out'));
    const summary = await createPipeline({
      source: lineSource({ path }),
      // A bare JSON.parse, as a library user writes it: it throws on the lines that are not JSON.
      decode: (line: string) => JSON.parse(line) as { n: number },
      metrics: spec,
      sink,
      checkpoint: blobCheckpointStore(out),
      deadLetters,
    }).run();

    expect(summary).toMatchObject({ batches: 1, records: 3, invalidRecords: 2 });
    expect(sink.batches[0]?.metrics).toEqual({ total: 3, sum: 7 });
    expect(deadLetters.letters.map((l) => [l.offset, l.value])).toEqual([
      [1, 'not json'],
      [3, '{"n":'],
    ]);
    for (const letter of deadLetters.letters) {
      // JSON.parse's own message, whole (its wording is the JavaScript engine's).
      expect(letter.reason).toBe(`decode threw ${jsonError(letter.value)}`);
    }
  });

  it('keeps a thrown reason on one line and bounded, whatever was thrown', async () => {
    const { batches, letters } = await decodeThrough([1, 2, 3], (n) => {
      if (n === 2) throw new Error(`line one\nline two ${'x'.repeat(1000)}`);
      if (n === 3) throw 'a bare string';
      return n;
    });
    expect(batches).toMatchObject([{ records: 1, invalidRecords: 2 }]);
    // The message on one line, cut to 300 characters with an ellipsis as the last of them.
    const line = `Error: line one line two ${'x'.repeat(1000)}`;
    expect(letters[0]?.reason).toBe(`decode threw ${line.slice(0, 299)}…`);
    expect(letters[1]?.reason).toBe('decode threw a bare string');
  });

  it('dead-letters the record even when what was thrown cannot be turned into a string', async () => {
    const { batches, letters } = await decodeThrough([1, 2, 3], (n) => {
      // String() of either throws a TypeError.
      if (n === 1) throw { toString: '' };
      if (n === 2) throw Object.create(null);
      return n;
    });
    expect(batches).toMatchObject([{ records: 1, invalidRecords: 2 }]);
    expect(letters.map((l) => l.reason)).toEqual([
      'decode threw [object Object]',
      'decode threw [object Object]',
    ]);
  });
});
