import { from, Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  count,
  countBy,
  metrics,
  microBatch,
  type RecordChunk,
  reject,
  sum,
  type WindowBatch,
} from '../src/index';

const spec = metrics({ total: count(), sum: sum((n: number) => n), by_value: countBy((n: number) => n) });
type Acc = ReturnType<typeof spec.init>;

function chunk(lane: string, first: number, values: number[]): RecordChunk<number> {
  return { lane, values, offsets: values.map((_, i) => first + i) };
}

/** Feeds chunks at virtual times and collects the batches. */
function play(
  events: Array<{ at: number; chunk: RecordChunk<number> }>,
  options: { span?: number; maxRecords?: number; endAt: number },
): Array<WindowBatch<Acc>> {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<RecordChunk<number>>();
  const out: Array<WindowBatch<Acc>> = [];
  input
    .pipe(
      microBatch({
        aggregator: spec,
        span: options.span ?? 30_000,
        scheduler,
        ...(options.maxRecords ? { maxRecords: options.maxRecords } : {}),
      }),
    )
    .subscribe((batch) => out.push(batch));
  for (const event of events) scheduler.schedule(() => input.next(event.chunk), event.at);
  scheduler.schedule(() => input.complete(), options.endAt);
  scheduler.flush();
  return out;
}

describe('microBatch', () => {
  it('cuts the stream into processing-time windows of the given span', () => {
    const batches = play(
      [
        { at: 1_000, chunk: chunk('p', 0, [1, 2]) },
        { at: 29_999, chunk: chunk('p', 2, [3]) },
        { at: 30_000, chunk: chunk('p', 3, [4]) },
        { at: 61_000, chunk: chunk('p', 4, [5]) },
      ],
      { endAt: 100_000 },
    );
    expect(batches.map((b) => [b.windowStart, b.windowEnd, b.records])).toEqual([
      [0, 30_000, 3],
      [30_000, 60_000, 1],
      [60_000, 90_000, 1],
    ]);
    expect(batches.map((b) => spec.result(b.accumulator).sum)).toEqual([6, 4, 5]);
  });

  it('does not emit empty batches when the source is idle', () => {
    const batches = play(
      [
        { at: 5_000, chunk: chunk('p', 0, [1]) },
        { at: 125_000, chunk: chunk('p', 1, [2]) },
      ],
      { endAt: 200_000 },
    );
    expect(batches.map((b) => [b.windowStart, b.windowEnd])).toEqual([
      [0, 30_000],
      [120_000, 150_000],
    ]);
  });

  it('flushes the final partial batch when the source completes', () => {
    const batches = play([{ at: 5_000, chunk: chunk('p', 0, [7, 8]) }], { endAt: 12_000 });
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ windowStart: 0, windowEnd: 12_000, records: 2 });
  });

  it('closes a window early at maxRecords, splitting a chunk across batches', () => {
    const batches = play([{ at: 1_000, chunk: chunk('p', 0, [1, 2, 3, 4, 5, 6, 7]) }], {
      maxRecords: 3,
      endAt: 2_000,
    });
    expect(batches.map((b) => b.records)).toEqual([3, 3, 1]);
    expect(batches.map((b) => b.range)).toEqual([
      { p: { from: 0, to: 2 } },
      { p: { from: 3, to: 5 } },
      { p: { from: 6, to: 6 } },
    ]);
  });

  it('records the offset range of every lane in a batch', () => {
    const batches = play(
      [
        { at: 1, chunk: chunk('b', 10, [1, 2]) },
        { at: 2, chunk: chunk('a', 0, [3]) },
        { at: 3, chunk: chunk('b', 12, [4]) },
      ],
      { endAt: 10 },
    );
    expect(batches[0]?.range).toEqual({ a: { from: 0, to: 0 }, b: { from: 10, to: 12 } });
  });

  it('gives the same result however the lanes are interleaved', () => {
    const a = [chunk('a', 0, [1, 2]), chunk('a', 2, [3])];
    const b = [chunk('b', 0, [9]), chunk('b', 1, [8, 7])];
    const run = (order: RecordChunk<number>[]) =>
      play(
        order.map((c, i) => ({ at: i, chunk: c })),
        { endAt: 100 },
      ).map((batch) => JSON.stringify(spec.result(batch.accumulator)));
    expect(run([...a, ...b])).toEqual(run([b[0]!, a[0]!, b[1]!, a[1]!]));
  });

  it('counts rejected records and reports them without stopping the stream', () => {
    const letters: string[] = [];
    const out: Array<WindowBatch<Acc>> = [];
    from([chunk('p', 0, [1, -2, 3, -4])])
      .pipe(
        microBatch({
          aggregator: spec,
          decode: (n: number) => (n < 0 ? reject(`negative: ${n}`) : n),
          onRejected: (letter) => letters.push(`${letter.offset}:${letter.reason}`),
        }),
      )
      .subscribe((batch) => out.push(batch));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ records: 2, invalidRecords: 2 });
    expect(letters).toEqual(['1:negative: -2', '3:negative: -4']);
  });

  it('rebuilds a replayed window over exactly its recorded range before any new window', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<RecordChunk<number>>();
    const out: Array<WindowBatch<Acc>> = [];
    input
      .pipe(
        microBatch({
          aggregator: spec,
          scheduler,
          span: 10,
          replay: {
            range: { a: { from: 5, to: 7 }, b: { from: 0, to: 0 } },
            windowStart: 111,
            windowEnd: 222,
          },
        }),
      )
      .subscribe((batch) => out.push(batch));
    scheduler.schedule(() => input.next(chunk('a', 5, [1, 2, 3, 4, 5])), 1);
    // Windows stay open while lane b has not yet reached the end of the replayed range.
    scheduler.schedule(() => input.next(chunk('b', 0, [10, 20])), 50);
    scheduler.schedule(() => input.complete(), 60);
    scheduler.flush();
    expect(out.map((b) => [b.replay, b.windowStart, b.windowEnd, b.range])).toEqual([
      [true, 111, 222, { a: { from: 5, to: 7 }, b: { from: 0, to: 0 } }],
      [false, 0, 50, { a: { from: 8, to: 9 }, b: { from: 1, to: 1 } }],
    ]);
    expect(spec.result(out[0]!.accumulator).sum).toBe(16);
  });

  it('emits nothing when the source ends before a replayed window is complete', () => {
    const out: Array<WindowBatch<Acc>> = [];
    from([chunk('a', 5, [1, 2]), chunk('b', 0, [3])])
      .pipe(
        microBatch({
          aggregator: spec,
          replay: { range: { a: { from: 5, to: 9 } }, windowStart: 1, windowEnd: 2 },
        }),
      )
      .subscribe((batch) => out.push(batch));
    expect(out).toEqual([]);
  });

  it('drops records below the committed positions', () => {
    const out: Array<WindowBatch<Acc>> = [];
    from([chunk('p', 0, [1, 2, 3, 4])])
      .pipe(microBatch({ aggregator: spec, skipBefore: { p: 2 } }))
      .subscribe((batch) => out.push(batch));
    expect(out[0]?.range).toEqual({ p: { from: 2, to: 3 } });
    expect(spec.result(out[0]!.accumulator).sum).toBe(7);
  });

  it('closes the open window on a flush request', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<RecordChunk<number>>();
    const flush = new Subject<void>();
    const out: Array<WindowBatch<Acc>> = [];
    input
      .pipe(microBatch({ aggregator: spec, scheduler, flushRequests: flush }))
      .subscribe((b) => out.push(b));
    scheduler.schedule(() => input.next(chunk('p', 0, [1])), 1_000);
    scheduler.schedule(() => flush.next(), 2_000);
    scheduler.schedule(() => input.next(chunk('p', 1, [2])), 3_000);
    scheduler.schedule(() => input.complete(), 4_000);
    scheduler.flush();
    expect(out.map((b) => [b.windowStart, b.windowEnd, b.records])).toEqual([
      [0, 2_000, 1],
      [2_000, 4_000, 1],
    ]);
  });

  it('refuses a non-positive span with a message naming the option', () => {
    expect(() => microBatch({ aggregator: spec, span: 0 })).toThrow(/span must be a positive duration/);
    // A longer span than a timer can wait would fire after 1 ms: refused, not cut into 1 ms windows.
    expect(() => microBatch({ aggregator: spec, span: '600h' })).toThrow(/span must be at most 596h/);
    expect(() => microBatch({ aggregator: spec, span: 2 ** 31 })).toThrow(/span must be at most 596h/);
    expect(() => microBatch({ aggregator: spec, span: 2 ** 31 - 1 })).not.toThrow();
  });
});
