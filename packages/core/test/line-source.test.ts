import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { lastValueFrom, of, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lineSource, type RecordChunk, type SourceContext } from '../src/index';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-lines-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(startAt: Record<string, number> = {}): SourceContext {
  return { startAt, signal: new AbortController().signal, pressure: of(false), flush: async () => {} };
}

async function read(text: string, options: { readSize?: number; startAt?: Record<string, number> } = {}) {
  const path = join(dir, 'input.jsonl');
  await writeFile(path, text);
  const source = lineSource({ path, ...(options.readSize ? { readSize: options.readSize } : {}) });
  const chunks = await lastValueFrom(source.open(context(options.startAt)).pipe(toArray()));
  return {
    values: chunks.flatMap((c: RecordChunk<string>) => [...c.values]),
    offsets: chunks.flatMap((c: RecordChunk<string>) => Array.from(c.offsets)),
  };
}

describe('lineSource', () => {
  it('gives each line its 0-based line number as offset, skipping empty lines', async () => {
    expect(await read('a\nb\n\nc')).toEqual({ values: ['a', 'b', 'c'], offsets: [0, 1, 3] });
  });

  it('strips CRLF line ends and reads a last line without a newline', async () => {
    expect(await read('a\r\nb\r\nc\r')).toEqual({ values: ['a', 'b', 'c'], offsets: [0, 1, 2] });
  });

  it('decodes multi-byte characters split across read blocks', async () => {
    const lines = ['{"request":"héllo wörld ✓ 🎫"}', '{"request":"日本語のチケット"}', 'plain'];
    const { values } = await read(`${lines.join('\n')}\n`, { readSize: 3 });
    expect(values).toEqual(lines);
  });

  it('reports the bytes read and the records emitted after each block', async () => {
    const path = join(dir, 'input.jsonl');
    await writeFile(path, 'aa\nbb\n\ncc\n');
    const reads: Array<{ bytes: number; records: number }> = [];
    const source = lineSource({ path, readSize: 4, onRead: (read) => reads.push({ ...read }) });
    await lastValueFrom(source.open(context({ input: 1 })).pipe(toArray()));
    expect(reads).toEqual([
      { bytes: 4, records: 0 },
      { bytes: 8, records: 1 },
      { bytes: 10, records: 2 },
      { bytes: 10, records: 2 },
    ]);
  });

  it('starts at the line the checkpoint gives', async () => {
    expect(await read('a\nb\nc\nd\n', { startAt: { input: 2 } })).toEqual({
      values: ['c', 'd'],
      offsets: [2, 3],
    });
  });

  it('fails with STORAGE_NOT_FOUND when the file is missing', async () => {
    const source = lineSource({ path: join(dir, 'missing.jsonl') });
    await expect(lastValueFrom(source.open(context()))).rejects.toMatchObject({
      code: 'STORAGE_NOT_FOUND',
      message: `input file not found: ${join(dir, 'missing.jsonl')}`,
    });
  });

  it('completes when the pipeline is stopped, even while its stream stays open', async () => {
    const stream = new PassThrough();
    const stop = new AbortController();
    const source = lineSource({ path: '-', stream });
    const done = lastValueFrom(source.open({ ...context(), signal: stop.signal }).pipe(toArray()));
    stream.write('a\nb\n');
    await new Promise((r) => setImmediate(r));
    stop.abort();
    const chunks = await done;
    expect(chunks.flatMap((c) => [...c.values])).toEqual(['a', 'b']);
  });
});
