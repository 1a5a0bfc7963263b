import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Batch, type BlobStore, localBlobStore } from '@ticketflow/core';
import { s3BlobStore } from '@ticketflow/s3-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../../s3-store/test/support/moto';
import { batchKey, blobDeadLetters, jsonSink } from '../src/index';

let moto: MotoServer;
let dir: string;
const BUCKET = 'layouts';

beforeAll(async () => {
  moto = await startMoto({ buckets: [BUCKET] });
  Object.assign(process.env, moto.env());
  dir = await mkdtemp(join(tmpdir(), 'ticketflow-json-sink-'));
});
afterAll(async () => {
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

function batch(batchId: number, windowStart: string, metrics: Record<string, unknown> = { n: batchId }) {
  const start = new Date(windowStart);
  return {
    batchId,
    windowStart: start,
    windowEnd: new Date(start.getTime() + 30_000),
    records: 3,
    invalidRecords: 1,
    metrics,
    range: { input: { from: batchId * 4, to: batchId * 4 + 3 } },
  } satisfies Batch<Record<string, unknown>>;
}

/** The two kinds of store every layout must work on. */
const targets: Array<
  [string, () => { store: BlobStore; read: (key: string) => Promise<Buffer | undefined> }]
> = [
  [
    'a local folder',
    () => {
      const root = join(dir, `out-${Math.random().toString(36).slice(2)}`);
      return {
        store: localBlobStore(root),
        read: (key) => readFile(join(root, key)).catch(() => undefined),
      };
    },
  ],
  [
    'S3',
    () => {
      const prefix = `out-${Math.random().toString(36).slice(2)}/`;
      return {
        store: s3BlobStore({ bucket: BUCKET, prefix }),
        read: (key) => moto.getObject(BUCKET, prefix + key),
      };
    },
  ],
];

describe('batchKey', () => {
  it('names flat and Hive-partitioned files from the UTC window start', () => {
    const start = new Date('2026-03-01T23:59:45.000+00:00');
    expect(batchKey(42, start)).toBe('batch_00042.json');
    expect(batchKey(42, start, { gzip: true })).toBe('batch_00042.json.gz');
    expect(batchKey(42, start, { layout: 'hive' })).toBe('dt=2026-03-01/hour=23/batch_00042.json');
    expect(batchKey(123456, new Date('2026-03-02T00:00:00-01:00'), { layout: 'hive', gzip: true })).toBe(
      'dt=2026-03-02/hour=01/batch_123456.json.gz',
    );
  });
});

describe.each(targets)('jsonSink on %s', (_, open) => {
  it('writes the flat batch_XXXXX.json of the output contract by default, one JSON line per file', async () => {
    const { store, read } = open();
    const sink = jsonSink({ store });
    await sink.write(batch(7, '2026-03-01T10:00:00Z'));
    const text = (await read('batch_00007.json'))?.toString('utf8');
    expect(text).toBe(
      '{"batch_id":7,"window_start":"2026-03-01T10:00:00.000Z","window_end":"2026-03-01T10:00:30.000Z","records":3,"invalid_records":1,"n":7}\n',
    );
    expect(sink.describe(7)).toBe(store.describe('batch_00007.json'));
  });

  it('writes the Hive layout dt=YYYY-MM-DD/hour=HH/ from the window start in UTC', async () => {
    const { store, read } = open();
    const sink = jsonSink({ store, layout: 'hive' });
    await sink.write(batch(0, '2026-03-01T09:59:50Z'));
    await sink.write(batch(1, '2026-03-01T10:00:20Z'));
    expect(await store.list('')).toEqual([
      'dt=2026-03-01/hour=09/batch_00000.json',
      'dt=2026-03-01/hour=10/batch_00001.json',
    ]);
    const line = (await read('dt=2026-03-01/hour=10/batch_00001.json'))?.toString('utf8') ?? '';
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ batch_id: 1, window_start: '2026-03-01T10:00:20.000Z' });
    expect(sink.describe(1)).toBe(store.describe('dt=2026-03-01/hour=10/batch_00001.json'));
    expect(sink.describe(0)).toBe(store.describe('dt=2026-03-01/hour=09/batch_00000.json'));
  });

  it('gzips each file when asked, and the file unzips to the same JSON line', async () => {
    const { store, read } = open();
    const plain = jsonSink({ store, layout: 'hive', prefix: 'plain/' });
    const zipped = jsonSink({ store, layout: 'hive', gzip: true, prefix: 'zipped/' });
    const b = batch(3, '2026-03-01T10:00:00Z', { by_type: [{ request_type: 'billing', count: 2 }] });
    await plain.write(b);
    await zipped.write(b);
    const gz = await read('zipped/dt=2026-03-01/hour=10/batch_00003.json.gz');
    expect(gz?.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(gz ?? Buffer.alloc(0))).toEqual(
      await read('plain/dt=2026-03-01/hour=10/batch_00003.json'),
    );
    const flat = jsonSink({ store, gzip: true, prefix: 'flat/' });
    await flat.write(b);
    expect(await store.list('flat/')).toEqual(['flat/batch_00003.json.gz']);
  });

  it('rewrites a replayed batch to the same key with the same bytes', async () => {
    const { store, read } = open();
    const first = jsonSink({ store, layout: 'hive', gzip: true });
    await first.write(batch(5, '2026-03-01T10:00:00Z'));
    const before = await read('dt=2026-03-01/hour=10/batch_00005.json.gz');
    const replay = jsonSink({ store, layout: 'hive', gzip: true });
    await replay.write(batch(5, '2026-03-01T10:00:00Z'));
    expect(await store.list('')).toEqual(['dt=2026-03-01/hour=10/batch_00005.json.gz']);
    expect(await read('dt=2026-03-01/hour=10/batch_00005.json.gz')).toEqual(before);
  });
});

describe('jsonSink options', () => {
  it('refuses an unknown layout with a one-line error', () => {
    expect(() => jsonSink({ store: localBlobStore(dir), layout: 'daily' as unknown as 'flat' })).toThrow(
      'layout must be one of flat, hive, got "daily"',
    );
  });
});

describe.each(targets)('blobDeadLetters on %s', (_, open) => {
  const letter = (lane: string, offset: number) => ({
    value: `bad ${offset}`,
    reason: 'invalid JSON',
    lane,
    offset,
  });

  it('puts the letters written since the last flush as one JSON Lines object named after the first', async () => {
    const { store, read } = open();
    const deadLetters = blobDeadLetters(store);
    deadLetters.write(letter('client_tickets/0', 7));
    deadLetters.write(letter('client_tickets/0', 9));
    await deadLetters.flush();
    deadLetters.write(letter('client_tickets/1', 3));
    await deadLetters.flush();
    await deadLetters.flush();
    expect(await store.list('')).toEqual([
      '_dead_letters/client_tickets_0-000000000007.jsonl',
      '_dead_letters/client_tickets_1-000000000003.jsonl',
    ]);
    const lines = (await read('_dead_letters/client_tickets_0-000000000007.jsonl'))?.toString('utf8') ?? '';
    expect(
      lines
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { reason: 'invalid JSON', lane: 'client_tickets/0', offset: 7, value: 'bad 7' },
      { reason: 'invalid JSON', lane: 'client_tickets/0', offset: 9, value: 'bad 9' },
    ]);
    expect(deadLetters.location).toBe(store.describe('_dead_letters/'));
  });

  it('overwrites rather than duplicates when a replay refuses the same records again', async () => {
    const { store } = open();
    for (let run = 0; run < 2; run += 1) {
      const deadLetters = blobDeadLetters(store, { prefix: 'dl/' });
      deadLetters.write(letter('input', 12));
      deadLetters.write(letter('input', 40));
      await deadLetters.close?.();
    }
    expect(await store.list('dl/')).toEqual(['dl/input-000000000012.jsonl']);
  });

  it('writes a part early once the buffer passes the high-water mark', async () => {
    const { store } = open();
    const deadLetters = blobDeadLetters(store, { prefix: 'hw/', highWaterBytes: 130 });
    for (let offset = 0; offset < 4; offset += 1) deadLetters.write(letter('input', offset));
    await deadLetters.flush();
    expect(await store.list('hw/')).toEqual(['hw/input-000000000000.jsonl', 'hw/input-000000000002.jsonl']);
  });
});

describe('blobDeadLetters failures', () => {
  it('rejects flush when the store refuses the object', async () => {
    const store = s3BlobStore({ bucket: 'missing-bucket' });
    const deadLetters = blobDeadLetters(store);
    deadLetters.write({ value: 'x', reason: 'r', lane: 'input', offset: 0 });
    await expect(deadLetters.flush()).rejects.toThrow('S3 bucket "missing-bucket" does not exist');
  });
});
