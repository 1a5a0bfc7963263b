import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualTimeScheduler } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Batch,
  blobCheckpointStore,
  type CheckpointStore,
  count,
  createPipeline,
  type DeadLetter,
  type DeadLetterHandler,
  localBlobStore,
  memoryCheckpointStore,
  metrics,
  reject,
  sum,
  TicketflowError,
} from '../src/index';
import { memorySink, memorySource, runOnVirtualTime } from '../src/testing/index';

const spec = metrics({ total: count(), sum: sum((n: number) => n) });
const decode = (line: string) => {
  const n = Number(line);
  return Number.isInteger(n) ? n : reject(`not an integer: ${line}`);
};

describe('createPipeline', () => {
  it('numbers batches from 0 and acknowledges each only after the sink wrote it', async () => {
    const written = new Set<number>();
    const order: string[] = [];
    const source = memorySource([{ values: ['1', '2'] }, { values: ['3'] }, { values: ['4', 'x'] }]);
    const pipeline = createPipeline({
      source: {
        ...source,
        open: source.open,
        acknowledge: async (range, positions) => {
          order.push(`ack:${JSON.stringify(range)}:${written.size}`);
          await source.acknowledge(range, positions);
        },
      },
      decode,
      metrics: spec,
      window: { maxRecords: 2 },
      sink: {
        write: async (batch: Batch<unknown>) => {
          order.push(`write:${batch.batchId}`);
          written.add(batch.batchId);
        },
        describe: (id) => `memory:${id}`,
      },
    });
    const summary = await pipeline.run();
    expect(summary).toEqual({ batches: 3, records: 4, invalidRecords: 1, lastBatchId: 2 });
    expect(order).toEqual([
      'write:0',
      'ack:{"memory":{"from":0,"to":1}}:1',
      'write:1',
      'ack:{"memory":{"from":2,"to":3}}:2',
      'write:2',
      'ack:{"memory":{"from":4,"to":4}}:3',
    ]);
  });

  it('reports one progress event per batch with its counts and rates', async () => {
    const { progress } = await runOnVirtualTime({
      events: [
        { at: 1_000, values: ['1', '2', 'bad'] },
        { at: 31_000, values: ['3'] },
      ],
      decode,
      metrics: spec,
      window: { span: '30s' },
    });
    expect(progress.map((p) => [p.batchId, p.inputRecords, p.records, p.invalidRecords])).toEqual([
      [0, 3, 2, 1],
      [1, 1, 1, 0],
    ]);
    // 3 records over a 30 s window of virtual time; processed per second of the batch's own work.
    expect(progress[0]?.inputRecordsPerSecond).toBe(3 / 30);
    const busyMs = progress[0]?.durationMs.total as number;
    expect(busyMs).toBeGreaterThan(0);
    expect(progress[0]?.processedRecordsPerSecond).toBe((3 * 1000) / busyMs);
    expect(progress[0]?.output).toBe('memory:0');
  });

  it('makes the dead letters durable after recording a batch and before writing and committing it', async () => {
    const calls: string[] = [];
    const checkpoint = memoryCheckpointStore();
    const recording: CheckpointStore = {
      location: checkpoint.location,
      load: () => checkpoint.load(),
      begin: async (plan) => {
        calls.push(`begin:${plan.batchId}`);
        await checkpoint.begin(plan);
      },
      commit: async (plan) => {
        calls.push(`commit:${plan.batchId}`);
        await checkpoint.commit(plan);
      },
    };
    const source = memorySource([{ values: ['1', 'x', '2', 'y'] }, { values: ['3', 'z'] }]);
    await createPipeline({
      source: {
        ...source,
        open: source.open,
        acknowledge: async (range, positions) => {
          calls.push(`ack:${JSON.stringify(range)}`);
          await source.acknowledge(range, positions);
        },
      },
      decode,
      metrics: spec,
      window: { maxRecords: 4 },
      checkpoint: recording,
      deadLetters: {
        write: (letter) => calls.push(`letter:${letter.offset}`),
        flush: async () => {
          calls.push('flush');
        },
      },
      sink: {
        write: async (batch: Batch<unknown>) => {
          calls.push(`write:${batch.batchId}`);
        },
        describe: (id) => `memory:${id}`,
      },
    }).run();
    expect(calls).toEqual([
      // The source hands every chunk over at once: all refused records are written as they are read.
      'letter:1',
      'letter:3',
      'letter:5',
      'begin:0',
      'flush',
      'write:0',
      'commit:0',
      'ack:{"memory":{"from":0,"to":3}}',
      'begin:1',
      'flush',
      'write:1',
      'commit:1',
      'ack:{"memory":{"from":4,"to":5}}',
    ]);
  });

  it('has the dead letters of a batch durable when its sink write fails and the run dies', async () => {
    // Letters written are only buffered; only a flush makes them durable. No `close`: a crash flushes nothing.
    const buffered: DeadLetter<string>[] = [];
    const durable: DeadLetter<string>[] = [];
    const deadLetters: DeadLetterHandler<string> = {
      write: (letter) => buffered.push(letter),
      flush: async () => {
        durable.push(...buffered.splice(0));
      },
    };
    const checkpoint = memoryCheckpointStore();
    const run = createPipeline({
      source: memorySource([{ values: ['1', 'oops', '2'] }]),
      decode,
      metrics: spec,
      sink: memorySink<unknown>({ failOn: new Set([0]) }),
      checkpoint,
      deadLetters,
    }).run();
    await expect(run).rejects.toMatchObject({ code: 'SINK_FAILED' });
    expect(durable.map((l) => [l.offset, l.reason])).toEqual([[1, 'not an integer: oops']]);
    expect(buffered).toEqual([]);
    // The batch stays pending (recorded, never committed): its letters are written again on replay.
    expect((await checkpoint.load()).pending?.batchId).toBe(0);
  });

  it('sends invalid records to the dead-letter handler with their reason and position', async () => {
    const { deadLetters, batches } = await runOnVirtualTime({
      events: [{ values: ['1', 'oops', '2'], lane: 'input' }],
      decode,
      metrics: spec,
    });
    expect(deadLetters).toEqual([
      { value: 'oops', reason: 'not an integer: oops', lane: 'input', offset: 1 },
    ]);
    expect(batches[0]?.invalidRecords).toBe(1);
    expect(batches[0]?.metrics).toEqual({ total: 2, sum: 3 });
  });

  it('continues batch ids across runs that share a checkpoint', async () => {
    const checkpoint = memoryCheckpointStore();
    const first = await runOnVirtualTime({ events: [{ values: ['1'] }], metrics: spec, decode, checkpoint });
    const second = await runOnVirtualTime({
      events: [{ values: ['1'] }, { at: 5, values: ['2'] }],
      metrics: spec,
      decode,
      checkpoint,
    });
    expect(first.batches.map((b) => b.batchId)).toEqual([0]);
    // The second run resumes after offset 0, so only the new record is read.
    expect(second.batches.map((b) => [b.batchId, b.metrics])).toEqual([[1, { total: 1, sum: 2 }]]);
  });

  it('replays a batch that failed to write over the same records, with the same id and window', async () => {
    const checkpoint = memoryCheckpointStore();
    const events = [
      { at: 1_000, values: ['1', '2'] },
      { at: 31_000, values: ['3', '4'] },
      { at: 61_000, values: ['5'] },
    ];
    const failing = memorySink<unknown>({ failOn: new Set([1]) });
    const source = memorySource(events);
    const crashed = createPipeline({
      source,
      decode,
      metrics: spec,
      sink: failing,
      checkpoint,
      window: { maxRecords: 2 },
    });
    const error = await crashed.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TicketflowError);
    expect((error as TicketflowError).code).toBe('SINK_FAILED');
    expect(source.acknowledged).toEqual([{ memory: { from: 0, to: 1 } }]);
    const planned = checkpoint.plans[1];

    const sink = memorySink<unknown>();
    const restarted = memorySource(events);
    await createPipeline({
      source: restarted,
      decode,
      metrics: spec,
      sink,
      checkpoint,
      window: { maxRecords: 2 },
    }).run();
    expect(sink.batches.map((b) => [b.batchId, b.metrics])).toEqual([
      [1, { total: 2, sum: 7 }],
      [2, { total: 1, sum: 5 }],
    ]);
    expect(sink.batches[0]?.windowStart.getTime()).toBe(planned?.windowStart);
    expect(sink.batches[0]?.range).toEqual(planned?.range);
    expect(restarted.lastContext?.startAt).toEqual({ memory: 2 });
  });

  it('fails clearly, committing nothing, when the source ends before a pending batch is rebuilt', async () => {
    const checkpoint = memoryCheckpointStore();
    const events = [{ values: ['1', '2', '3', '4'] }];
    const crashed = createPipeline({
      source: memorySource(events),
      decode,
      metrics: spec,
      sink: memorySink<unknown>({ failOn: new Set([0]) }),
      checkpoint,
    });
    await expect(crashed.run()).rejects.toMatchObject({ code: 'SINK_FAILED' });

    const shorter = memorySink<unknown>();
    const cut = createPipeline({
      source: memorySource([{ values: ['1', '2'] }]),
      decode,
      metrics: spec,
      sink: shorter,
      checkpoint,
    });
    await expect(cut.run()).rejects.toThrow(/ended before batch 0 could be rebuilt/);
    expect(shorter.batches).toEqual([]);

    const whole = memorySink<unknown>();
    await createPipeline({
      source: memorySource(events),
      decode,
      metrics: spec,
      sink: whole,
      checkpoint,
    }).run();
    expect(whole.batches.map((b) => [b.batchId, b.metrics])).toEqual([[0, { total: 4, sum: 10 }]]);
  });

  it('closes the open window at the moment it is stopped: exact window bounds on virtual time', async () => {
    const scheduler = new VirtualTimeScheduler();
    const source = memorySource(
      [
        { at: 200, values: ['1'] },
        { at: 1_500, values: ['2', '3'] },
        { at: 2_100, values: ['4'] },
        // After the stop: never read.
        { at: 2_900, values: ['5'] },
      ],
      { scheduler },
    );
    const sink = memorySink<unknown>();
    const pipeline = createPipeline({
      source: {
        ...source,
        open: (context) => {
          const chunks = source.open(context);
          queueMicrotask(() => scheduler.flush());
          return chunks;
        },
      },
      decode,
      metrics: spec,
      sink,
      scheduler,
      window: { span: '1s' },
    });
    // As SIGTERM does in the CLI, 300 ms into the third window.
    scheduler.schedule(() => pipeline.stop(), 2_300);
    const summary = await pipeline.run();
    expect(sink.batches.map((b) => [b.windowStart.getTime(), b.windowEnd.getTime(), b.metrics])).toEqual([
      [0, 1_000, { total: 1, sum: 1 }],
      [1_000, 2_000, { total: 2, sum: 5 }],
      [2_000, 2_300, { total: 1, sum: 4 }],
    ]);
    expect(summary).toEqual({ batches: 3, records: 4, invalidRecords: 0, lastBatchId: 2 });
  });

  it('writes the last open batch and resolves when stopped', async () => {
    const source = memorySource([{ values: ['1', '2'] }]);
    const sink = memorySink<unknown>();
    const pipeline = createPipeline({
      source: {
        ...source,
        open: (context) => {
          const chunks = source.open(context);
          return chunks;
        },
      },
      decode,
      metrics: spec,
      sink,
    });
    pipeline.stop();
    const summary = await pipeline.run();
    // The memory source checks the signal before each chunk: stopped before the first, nothing is read.
    expect(summary.batches).toBe(0);
    expect(sink.batches).toEqual([]);
  });
});

describe('blobCheckpointStore on a local folder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ticketflow-checkpoint-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes from the last committed batch and exposes an uncommitted one as pending', async () => {
    const store = blobCheckpointStore(localBlobStore(dir));
    expect(await store.load()).toEqual({ nextBatchId: 0, positions: {} });
    const plan0 = {
      batchId: 0,
      windowStart: 1,
      windowEnd: 2,
      range: { p: { from: 0, to: 9 } },
      positions: { p: 10 },
    };
    const plan1 = {
      batchId: 1,
      windowStart: 2,
      windowEnd: 3,
      range: { p: { from: 10, to: 19 } },
      positions: { p: 20 },
    };
    await store.begin(plan0);
    await store.commit(plan0);
    expect(await store.load()).toEqual({ nextBatchId: 1, positions: { p: 10 } });
    await store.begin(plan1);
    expect(await store.load()).toEqual({ nextBatchId: 1, positions: { p: 10 }, pending: plan1 });
    expect((await readdir(join(dir, '_checkpoint', 'offsets'))).sort()).toEqual(['0.json', '1.json']);
  });

  it('keeps only the configured number of batches of history', async () => {
    const store = blobCheckpointStore(localBlobStore(dir), { retain: 2 });
    for (let id = 0; id < 5; id++) {
      const plan = { batchId: id, windowStart: id, windowEnd: id + 1, range: {}, positions: { p: id } };
      await store.begin(plan);
      await store.commit(plan);
    }
    expect((await readdir(join(dir, '_checkpoint', 'offsets'))).sort()).toEqual(['3.json', '4.json']);
    expect(await store.load()).toEqual({ nextBatchId: 5, positions: { p: 4 } });
  });

  it('writes blobs atomically, leaving no temporary file behind', async () => {
    const blobs = localBlobStore(dir);
    await blobs.put('a/b.json', '{"x":1}');
    await blobs.put('a/b.json', '{"x":2}');
    expect(await readFile(join(dir, 'a', 'b.json'), 'utf8')).toBe('{"x":2}');
    expect(await readdir(join(dir, 'a'))).toEqual(['b.json']);
    expect(await blobs.list('a/')).toEqual(['a/b.json']);
    expect(await blobs.get('missing.json')).toBeUndefined();
    await expect(blobs.put('../escape', 'x')).rejects.toThrow(/leaves/);
  });
});
