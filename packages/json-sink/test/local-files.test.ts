import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Batch, localBlobStore } from '@ticketflow/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchFileName, deadLetterFile, jsonSink } from '../src/index';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-json-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const batch = (batchId: number, total: number): Batch<{ total: number; mean: number | null }> => ({
  batchId,
  windowStart: new Date(Date.UTC(2026, 2, 1, 10, 0, 0)),
  windowEnd: new Date(Date.UTC(2026, 2, 1, 10, 0, 30)),
  records: total,
  invalidRecords: 1,
  metrics: { total, mean: total === 0 ? null : 0.1 + 0.2 },
  range: { input: { from: 0, to: total } },
});

describe('jsonSink on local files', () => {
  it('names files batch_ plus the id padded to five digits, wider past 99999', () => {
    expect(batchFileName(0)).toBe('batch_00000.json');
    expect(batchFileName(42)).toBe('batch_00042.json');
    expect(batchFileName(123456)).toBe('batch_123456.json');
  });

  it('writes one single-line JSON object per batch with unrounded numbers', async () => {
    const sink = jsonSink({ store: localBlobStore(dir) });
    await sink.write(batch(3, 7));
    const text = await readFile(join(dir, 'batch_00003.json'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().includes('\n')).toBe(false);
    expect(JSON.parse(text)).toEqual({
      batch_id: 3,
      window_start: '2026-03-01T10:00:00.000Z',
      window_end: '2026-03-01T10:00:30.000Z',
      records: 7,
      invalid_records: 1,
      total: 7,
      mean: 0.30000000000000004,
    });
    expect(sink.describe(3)).toBe(join(dir, 'batch_00003.json'));
  });

  it('rewrites the same bytes when a batch is written again', async () => {
    const sink = jsonSink({ store: localBlobStore(dir), format: (b) => ({ id: b.batchId, m: b.metrics }) });
    await sink.write(batch(1, 5));
    const first = await readFile(join(dir, 'batch_00001.json'));
    await sink.write(batch(1, 5));
    expect(await readFile(join(dir, 'batch_00001.json'))).toEqual(first);
    expect(await readdir(dir)).toEqual(['batch_00001.json']);
  });
});

describe('deadLetterFile', () => {
  it('appends one JSON line per invalid record, durable after flush', async () => {
    const path = join(dir, 'out', '_dead_letters.jsonl');
    const letters = deadLetterFile(path);
    letters.write({ value: 'not json', reason: 'invalid JSON', lane: 'input', offset: 4 });
    letters.write({ value: '{"a":1}', reason: 'missing field "ticket_id"', lane: 'input', offset: 9 });
    await letters.flush();
    const lines = (await readFile(path, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { reason: 'invalid JSON', lane: 'input', offset: 4, value: 'not json' },
      { reason: 'missing field "ticket_id"', lane: 'input', offset: 9, value: '{"a":1}' },
    ]);
    letters.write({ value: 'x', reason: 'r', lane: 'input', offset: 10 });
    await letters.close?.();
    expect((await readFile(path, 'utf8')).trimEnd().split('\n')).toHaveLength(3);
  });

  it('creates no file when nothing was refused', async () => {
    const path = join(dir, 'none.jsonl');
    const letters = deadLetterFile(path);
    await letters.flush();
    await letters.close?.();
    expect(await readdir(dir)).toEqual([]);
  });
});
