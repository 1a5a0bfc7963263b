import { from, Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type Aggregator,
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

type Played = Array<{ at: number; chunk: RecordChunk<number> }>;
interface PlayOptions {
  span?: number;
  maxRecords?: number;
  endAt: number;
}

/** Feeds chunks at virtual times and collects the batches. */
function play(events: Played, options: PlayOptions): Array<WindowBatch<Acc>> {
  return playWith(spec, events, options);
}

/** {@link play} with another aggregator. */
function playWith<A>(
  aggregator: Aggregator<number, A, unknown>,
  events: Played,
  options: PlayOptions,
): Array<WindowBatch<A>> {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<RecordChunk<number>>();
  const out: Array<WindowBatch<A>> = [];
  input
    .pipe(
      microBatch({
        aggregator,
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

  it('folds each lane on its own and merges the lanes in ascending name order, however they interleave', () => {
    // An order-sensitive aggregator: its result is the sequence of folded values, with each merge
    // spelled out, so merging in arrival order, in reverse or with the operands swapped shows.
    const trace: Aggregator<number, string, string> = {
      init: () => '',
      add: (acc, n) => (acc === '' ? String(n) : `${acc},${n}`),
      merge: (a, b) => `(${a})+(${b})`,
      result: (acc) => acc,
    };
    const a = [chunk('a', 0, [1, 2]), chunk('a', 2, [3])];
    const b = [chunk('b', 0, [10]), chunk('b', 1, [20, 30])];
    const c = [chunk('c', 0, [100]), chunk('c', 1, [200])];
    const run = (order: RecordChunk<number>[]) =>
      playWith(
        trace,
        order.map((ch, i) => ({ at: i, chunk: ch })),
        { endAt: 100 },
      ).map((batch) => [trace.result(batch.accumulator), Object.keys(batch.range)]);
    const merged = [['((1,2,3)+(10,20,30))+(100,200)', ['a', 'b', 'c']]];
    // Lanes arriving in name order, in reverse name order, and interleaved with c first and a last.
    expect(run([...a, ...b, ...c])).toEqual(merged);
    expect(run([...c, ...b, ...a])).toEqual(merged);
    expect(run([c[0]!, b[0]!, a[0]!, c[1]!, a[1]!, b[1]!])).toEqual(merged);
    expect(run([b[0]!, c[0]!, b[1]!, a[0]!, c[1]!, a[1]!])).toEqual(merged);
  });

  it('merges the lanes in name order in every window a chunk or the clock closes', () => {
    const list: Aggregator<number, number[], number[]> = {
      init: () => [],
      add: (acc, n) => [...acc, n],
      merge: (x, y) => [...x, ...y],
      result: (acc) => acc,
    };
    const batches = playWith(
      list,
      [
        { at: 1, chunk: chunk('z', 0, [1, 2, 3]) },
        { at: 2, chunk: chunk('m', 0, [4]) },
        { at: 3, chunk: chunk('a', 0, [5, 6]) },
        { at: 15, chunk: chunk('m', 1, [7]) },
        { at: 16, chunk: chunk('z', 3, [8]) },
      ],
      { span: 10, maxRecords: 5, endAt: 20 },
    );
    expect(
      batches.map((batch) => [batch.windowStart, batch.windowEnd, list.result(batch.accumulator)]),
    ).toEqual([
      // maxRecords closes the first window at 5 records, inside the chunk of lane a.
      [0, 3, [5, 4, 1, 2, 3]],
      [3, 10, [6]],
      [10, 20, [7, 8]],
    ]);
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
