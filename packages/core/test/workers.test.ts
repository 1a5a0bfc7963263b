import { isUtf8 } from 'node:buffer';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Batch,
  type CheckpointStore,
  composeSteps,
  createPipeline,
  type DeadLetter,
  lineSource,
  memoryCheckpointStore,
  reject,
  type Step,
} from '../src/index';
import { memorySink, memorySource } from '../src/testing/index';
import define, { type Order, type OrdersFoldOptions } from './support/orders-fold';

const MODULE = new URL('./support/orders-fold.ts', import.meta.url);
// The worker threads load the TypeScript sources of the packages, as the tests do.
const EXEC_ARGV = ['--conditions=ticketflow-source'];
const H = 3_600_000;
const T0 = Date.UTC(2026, 2, 1);

/** Orders over 30 hours, a few late by hours, some invalid, in chunks of uneven sizes over two lanes. */
function ordersInput(total: number): Array<{ lane: string; values: string[] }> {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const chunks: Array<{ lane: string; values: string[] }> = [];
  let made = 0;
  let clock = T0;
  while (made < total) {
    const n = Math.min(total - made, 1 + Math.floor(next() * 700));
    const values: string[] = [];
    for (let i = 0; i < n; i++) {
      clock += Math.floor(next() * 200_000);
      const r = next();
      const t = r < 0.02 ? clock - Math.floor(next() * 6 * H) : clock;
      if (r > 0.99) values.push('{"oops": ');
      else if (r > 0.98) values.push(JSON.stringify({ amount: 1, shop: 'x' }));
      else
        values.push(
          JSON.stringify({ t, amount: Math.floor(next() * 500), shop: `s${Math.floor(next() * 5)}` }),
        );
    }
    chunks.push({ lane: next() < 0.5 ? 'a' : 'b', values });
    made += n;
  }
  return chunks;
}

interface RunOptions extends OrdersFoldOptions {
  readonly workers?: number;
  readonly maxRecords?: number;
  readonly maxRunRecords?: number;
  /** The checkpoint to resume from and save to. Default: a new one. */
  readonly checkpoint?: CheckpointStore;
  /** Batch ids whose first write fails, stopping the run. */
  readonly failOn?: Set<number>;
}

async function runWith(input: Array<{ lane: string; values: string[] }>, options: RunOptions) {
  const fold = define(options);
  const sink = memorySink<unknown>(options.failOn ? { failOn: options.failOn } : {});
  const letters: DeadLetter<string>[] = [];
  const summary = await createPipeline({
    source: memorySource(input),
    ...fold,
    sink,
    checkpoint: options.checkpoint ?? memoryCheckpointStore(),
    deadLetters: { write: (letter) => letters.push(letter), flush: async () => {} },
    window: { span: '1h', ...(options.maxRecords ? { maxRecords: options.maxRecords } : {}) },
    ...(options.workers
      ? {
          workers: {
            module: MODULE,
            count: options.workers,
            options: { banned: options.banned, skew: options.skew },
            execArgv: EXEC_ARGV,
            ...(options.maxRunRecords ? { maxRunRecords: options.maxRunRecords } : {}),
          },
        }
      : {}),
  }).run();
  const batches = sink.batches.map((b: Batch<unknown>) => ({
    id: b.batchId,
    records: b.records,
    invalid: b.invalidRecords,
    range: b.range,
    metrics: b.metrics,
    watermark: b.watermark,
    late: b.lateRecords,
    windows: b.windows?.map((w) => [w.name, w.windowStart.toISOString(), w.records, w.metrics]),
  }));
  return {
    summary,
    batches: JSON.stringify(batches),
    letters: JSON.stringify(letters),
    count: sink.batches.length,
  };
}

describe('a pipeline folding on worker threads', () => {
  it('writes byte for byte what one thread writes: batches, windows, late records and dead letters', async () => {
    const input = ordersInput(40_000);
    const one = await runWith(input, { banned: 's3', maxRecords: 6_000 });
    const two = await runWith(input, { banned: 's3', maxRecords: 6_000, workers: 2, maxRunRecords: 500 });
    const three = await runWith(input, { banned: 's3', maxRecords: 6_000, workers: 3 });
    expect(one.count).toBeGreaterThan(5);
    expect(one.batches).toContain('"late":{"hourly":');
    expect(one.letters).toContain('shop s3 is banned');
    expect(two.batches).toBe(one.batches);
    expect(two.letters).toBe(one.letters);
    expect(three.batches).toBe(one.batches);
    expect(three.letters).toBe(one.letters);
    expect(two.summary).toEqual(one.summary);
  });

  it('sends the lines of a file as bytes, several runs to a block, and folds them as one thread does', async () => {
    const lines = ordersInput(30_000).flatMap((chunk) => chunk.values);
    // A line that is not UTF-8: refused by the source on every thread alike.
    const path = join(await mkdtemp(join(tmpdir(), 'ticketflow-workers-')), 'orders.jsonl');
    await writeFile(
      path,
      Buffer.concat([
        Buffer.from(`${lines.slice(0, 100).join('\n')}\n`),
        Buffer.from([0xff, 0x0a]),
        Buffer.from(lines.slice(100).join('\n')),
      ]),
    );
    const run = async (workers?: number) => {
      const sink = memorySink<unknown>();
      const letters: DeadLetter<string>[] = [];
      await createPipeline({
        source: lineSource({ path, readSize: 64 * 1024 }),
        ...define({ banned: 's2' }),
        sink,
        deadLetters: { write: (letter) => letters.push(letter), flush: async () => {} },
        window: { span: '1h', maxRecords: 700 },
        ...(workers
          ? {
              workers: {
                module: MODULE,
                count: workers,
                options: { banned: 's2' },
                execArgv: EXEC_ARGV,
                maxRunRecords: 300,
              },
            }
          : {}),
      }).run();
      return JSON.stringify([
        sink.batches.map((b) => [b.batchId, b.range, b.records, b.invalidRecords, b.metrics, b.windows]),
        letters,
      ]);
    };
    const one = await run();
    expect(one).toContain('line is not valid UTF-8');
    expect(await run(2)).toBe(one);
  });

  it('replays a batch whose write failed as one thread does, from the same checkpoint', async () => {
    const input = ordersInput(20_000);
    const attempt = async (workers: number | undefined) => {
      const checkpoint = memoryCheckpointStore();
      const common = { banned: 's1', maxRecords: 3_000, checkpoint, ...(workers ? { workers } : {}) };
      // The write of batch 2 fails: the run stops with batch 2 recorded in the checkpoint, not committed.
      await expect(runWith(input, { ...common, failOn: new Set([2]) })).rejects.toThrow(/batch 2/);
      const resumed = await runWith(input, common);
      return { resumed, plan: JSON.stringify(await checkpoint.load()) };
    };
    const one = await attempt(undefined);
    const two = await attempt(2);
    expect(JSON.parse(one.resumed.batches)[0].id).toBe(2);
    expect(two.resumed.batches).toBe(one.resumed.batches);
    expect(two.resumed.letters).toBe(one.resumed.letters);
    expect(two.plan).toBe(one.plan);
  });

  it('sends records as the text of their bytes, refused as one thread refuses them', async () => {
    interface Message {
      readonly value: Buffer | null;
      readonly key: string;
    }
    const lines = ordersInput(8_000).flatMap((chunk) => chunk.values);
    const messages: Message[] = lines.map((line, i) => ({
      key: `k${i}`,
      value: i % 997 === 5 ? null : i % 991 === 7 ? Buffer.from([0x7b, 0xfe, 0x7d]) : Buffer.from(line),
    }));
    const { decode } = define({ banned: 's4' });
    const messageText = (m: Message) =>
      m.value === null ? reject('no value') : isUtf8(m.value) ? m.value.toString() : reject('not UTF-8');
    const run = async (workers?: number) => {
      const sink = memorySink<unknown>();
      const letters: DeadLetter<Message>[] = [];
      await createPipeline({
        source: memorySource([
          { lane: 'p/0', values: messages.slice(0, 5_000) },
          { lane: 'p/1', values: messages.slice(5_000) },
        ]),
        ...define({ banned: 's4' }),
        decode: composeSteps(messageText, decode as Step<string, Order>),
        sink,
        deadLetters: { write: (letter) => letters.push(letter), flush: async () => {} },
        window: { span: '1h', maxRecords: 1_500 },
        ...(workers
          ? {
              workers: {
                module: MODULE,
                count: workers,
                options: { banned: 's4' },
                execArgv: EXEC_ARGV,
                text: { bytes: (m: Message) => m.value ?? reject('no value'), notUtf8Reason: 'not UTF-8' },
              },
            }
          : {}),
      }).run();
      return JSON.stringify([
        sink.batches.map((b) => [b.range, b.records, b.invalidRecords, b.metrics]),
        letters,
      ]);
    };
    const one = await run();
    expect(one).toContain('"reason":"no value"');
    expect(one).toContain('"reason":"not UTF-8"');
    expect(one).toContain('"key":"k5"');
    expect(await run(2)).toBe(one);
  });

  it('counts the records read while a replay is pending in the batch after it, as one thread does', async () => {
    const lines = ordersInput(2_000).flatMap((chunk) => chunk.values);
    const a = lines.slice(0, 900);
    const b = lines.slice(900, 1_500);
    // The first run reads A 0-299, B 0-599, A 300-899 and fails to write batch 0 (A 0-299, B 0-399).
    const first = [
      { lane: 'a', values: a.slice(0, 300) },
      { lane: 'b', values: b },
      { lane: 'a', values: a.slice(300) },
    ];
    // The second reads B first: B 400-599 arrive while batch 0 waits for A, and stay in the open batch.
    const second = [first[1], first[0], first[2]] as typeof first;
    const attempt = async (workers?: number) => {
      const checkpoint = memoryCheckpointStore();
      const common = { maxRecords: 700, checkpoint, ...(workers ? { workers, maxRunRecords: 150 } : {}) };
      await expect(runWith(first, { ...common, failOn: new Set([0]) })).rejects.toThrow(/batch 0/);
      return runWith(second, common);
    };
    const one = await attempt();
    const batches = JSON.parse(one.batches) as Array<{ records: number; invalid: number }>;
    expect(batches.length).toBeGreaterThan(2);
    for (const batch of batches) expect(batch.records + batch.invalid).toBeLessThanOrEqual(700);
    const two = await attempt(2);
    expect(two.batches).toBe(one.batches);
    expect(two.letters).toBe(one.letters);
  });

  it('makes the same partial aggregates in a partial stage', async () => {
    const input = ordersInput(12_000);
    const partials = async (workers?: number) => {
      const sink = memorySink<unknown>();
      await createPipeline({
        source: memorySource(input),
        ...define({}),
        sink,
        stage: 'partial',
        window: { span: '1h', maxRecords: 2_000 },
        ...(workers ? { workers: { module: MODULE, count: workers, execArgv: EXEC_ARGV } } : {}),
      }).run();
      return JSON.stringify(
        sink.batches.map(({ partial }) => ({ ...partial, windowStart: 0, windowEnd: 0 })),
      );
    };
    const one = await partials();
    expect(one).toContain('"hourly"');
    expect(await partials(2)).toBe(one);
  });

  it('ends at once when the source is empty, the threads still loading', async () => {
    const summary = await createPipeline({
      source: memorySource<string>([]),
      ...define({}),
      sink: memorySink<unknown>(),
      workers: { module: MODULE, count: 2, execArgv: EXEC_ARGV },
    }).run();
    expect(summary).toEqual({ batches: 0, records: 0, invalidRecords: 0 });
  });

  it('refuses options that cannot be sent to a thread when the pipeline is created', () => {
    expect(() =>
      createPipeline({
        source: memorySource<string>([]),
        ...define({}),
        sink: memorySink<unknown>(),
        workers: { module: MODULE, options: { banned: () => 's1' } },
      }),
    ).toThrow(/^workers\.options must be data a thread can receive \(no functions, no class instances\): /);
  });

  it('stops with one line when a worker thread builds other metrics than the pipeline', async () => {
    await expect(runWith(ordersInput(100), { skew: true, workers: 1 })).rejects.toThrow(
      /^fold worker 1: its metrics \(.*\) differ from the pipeline's \(.*\): build both from the same fold module$/,
    );
  });
});
