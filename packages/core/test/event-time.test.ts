import { Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type Aggregator,
  type Batch,
  count,
  createPipeline,
  type EventTimeOptions,
  type EventTimeState,
  type FinalWindow,
  memoryCheckpointStore,
  metrics,
  microBatch,
  type RecordChunk,
  sum,
  tumblingWindow,
  type WindowBatch,
} from '../src/index';
import { memorySource } from '../src/testing/index';

const H = 3_600_000;

interface Rec {
  readonly t: number;
  readonly v: number;
}

const perWindow = metrics({ n: count(), v: sum((r: Rec) => r.v) });
const spec = metrics({ n: count() });
type Acc = ReturnType<typeof spec.init>;

function eventTime(overrides: Partial<EventTimeOptions<Rec>> = {}): EventTimeOptions<Rec> {
  return {
    timestamp: (r) => r.t,
    windows: [
      tumblingWindow({ name: 'hourly', size: '1h', metrics: perWindow }),
      tumblingWindow({ name: 'daily', size: '24h', metrics: perWindow }),
    ],
    allowedLateness: 0,
    idleTimeout: '1m',
    ...overrides,
  };
}

let offsets: Record<string, number> = {};
/** A chunk of records at event times (hours as fractions), offsets continuing per lane. */
function at(lane: string, hours: number[]): RecordChunk<Rec> {
  const first = offsets[lane] ?? 0;
  offsets[lane] = first + hours.length;
  return { lane, values: hours.map((h) => ({ t: h * H, v: 1 })), offsets: hours.map((_, i) => first + i) };
}

interface Played {
  at: number;
  chunk?: RecordChunk<Rec>;
  flush?: true;
}

/** Feeds chunks at virtual times (ms), each `flush` closing the batch, and collects the batches. */
function play(events: Played[], options: Parameters<typeof playCatching>[1]): Array<WindowBatch<Acc>> {
  const { batches, error } = playCatching(events, options);
  if (error !== undefined) throw error;
  return batches;
}

/** {@link play}, returning the stream's error instead of throwing it. */
function playCatching(
  events: Played[],
  options: {
    endAt: number;
    eventTime?: EventTimeOptions<Rec>;
    state?: EventTimeState;
    stopped?: boolean;
    aggregator?: Aggregator<Rec, unknown, unknown>;
  },
): { batches: Array<WindowBatch<Acc>>; error?: unknown } {
  let error: unknown;
  offsets = {};
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<RecordChunk<Rec>>();
  const flushes = new Subject<void>();
  const stop = new AbortController();
  const out: Array<WindowBatch<Acc>> = [];
  input
    .pipe(
      microBatch({
        aggregator: (options.aggregator ?? spec) as typeof spec,
        span: 3_600_000,
        scheduler,
        flushRequests: flushes,
        eventTime: options.eventTime ?? eventTime(),
        ...(options.state ? { eventTimeState: options.state } : {}),
        stopped: stop.signal,
      }),
    )
    .subscribe({
      next: (batch) => out.push(batch),
      error: (e: unknown) => {
        error = e;
      },
    });
  for (const event of events) {
    scheduler.schedule(() => {
      if (event.chunk) input.next(event.chunk);
      if (event.flush) flushes.next();
    }, event.at);
  }
  scheduler.schedule(() => {
    if (options.stopped) stop.abort();
    input.complete();
  }, options.endAt);
  scheduler.flush();
  return error === undefined ? { batches: out } : { batches: out, error };
}

const finals = (batch: WindowBatch<Acc>) =>
  (batch.eventTime?.finalized ?? []).map((w: FinalWindow) => [
    w.name,
    w.windowStart.getTime() / H,
    (w.metrics as { n: number }).n,
  ]);

describe('event-time windows', () => {
  it('makes an hour final at the end of the first batch whose watermark reaches its end', () => {
    const batches = play(
      [
        { at: 1, chunk: at('a', [0.5, 0.7]), flush: true },
        { at: 2, chunk: at('a', [1.2, 1.5]), flush: true },
        { at: 3, chunk: at('a', [2, 2]), flush: true },
      ],
      { endAt: 10, stopped: true },
    );
    expect(batches.map((b) => b.eventTime?.watermark)).toEqual([0.5 * H, 1.2 * H, 2 * H]);
    expect(batches.map(finals)).toEqual([[], [['hourly', 0, 2]], [['hourly', 1, 2]]]);
    // Stopped, not ended: the open hour and day stay open in the saved state.
    expect(batches[2]?.eventTime?.state.windows.hourly?.open.map(([start, n]) => [start / H, n])).toEqual([
      [2, 2],
    ]);
    expect(batches[2]?.eventTime?.state.windows.daily?.open.map(([start, n]) => [start / H, n])).toEqual([
      [0, 6],
    ]);
  });

  it('counts a record late when its window ended at or before the previous batch watermark, exactly at the boundary', () => {
    const batches = play(
      [
        { at: 1, chunk: at('a', [1, 1]), flush: true },
        // Hour 0 ended at 1h, the previous watermark: late. Hour 1 starts at 1h: on time.
        { at: 2, chunk: at('a', [0.999, 1, 0.25]), flush: true },
      ],
      { endAt: 10, stopped: true },
    );
    expect(batches[0]?.eventTime?.watermark).toBe(H);
    expect(batches[1]?.eventTime?.late).toEqual({ hourly: 2, daily: 0 });
    expect(batches[1]?.records).toBe(3);
    expect(batches[1]?.eventTime?.state.windows.hourly?.open.map(([s, n]) => [s / H, n])).toEqual([[1, 3]]);
    expect(batches[1]?.eventTime?.state.windows.daily?.open.map(([s, n]) => [s / H, n])).toEqual([[0, 5]]);
  });

  it('takes the minimum over lanes, ignores a lane idle for idleTimeout, and never moves back', () => {
    const batches = play(
      [
        { at: 1_000, chunk: at('a', [5, 5]) },
        { at: 1_000, chunk: at('b', [1, 1]), flush: true },
        // b falls silent; a goes on. After 60 s without records, b stops holding the watermark back.
        { at: 30_000, chunk: at('a', [6, 6]), flush: true },
        { at: 61_000, chunk: at('a', [7, 7]), flush: true },
        // b comes back far behind: the watermark does not move back.
        { at: 62_000, chunk: at('b', [2, 2]), flush: true },
      ],
      { endAt: 100_000, stopped: true },
    );
    expect(batches.map((b) => (b.eventTime?.watermark ?? 0) / H)).toEqual([1, 1, 7, 7]);
    expect(batches[2]?.eventTime?.finalized.map((w) => w.windowStart.getTime() / H)).toEqual([1, 5, 6]);
    // b's records at hour 2 are late: hour 2 ended before the watermark of the batch before.
    expect(batches[3]?.eventTime?.late.hourly).toBe(2);
  });

  it('does not let one record from the far future finalize every open window', () => {
    const batches = play(
      [
        { at: 1, chunk: at('a', [1.5, 1.6, 10_000]), flush: true },
        { at: 2, chunk: at('a', [1.7, 2.1]), flush: true },
      ],
      { endAt: 10 },
    );
    // The second-largest event time leads: 1.6h, then 2.1h; the input's end adds an empty batch.
    expect(batches.map((b) => (b.eventTime?.watermark ?? 0) / H)).toEqual([1.6, 2.1, 2.1]);
    expect(batches[0]?.eventTime?.finalized).toEqual([]);
    expect(batches[1]?.eventTime?.late.hourly).toBe(0);
    expect(finals(batches[1] as WindowBatch<Acc>)).toEqual([['hourly', 1, 3]]);
    // The input ended: every open window is final, the far-future one included, with every record.
    expect(batches[2]).toMatchObject({ records: 0, endOfInput: true });
    expect(finals(batches[2] as WindowBatch<Acc>)).toEqual([
      ['hourly', 2, 1],
      ['hourly', 10_000, 1],
      ['daily', 0, 4],
      ['daily', 9_984, 1],
    ]);
  });

  it('makes every window final when the input ends, even after an empty last batch', () => {
    const batches = play([{ at: 1, chunk: at('a', [0.5]), flush: true }], { endAt: 10 });
    expect(batches).toHaveLength(2);
    expect(batches[0]?.eventTime?.finalized).toEqual([]);
    expect(batches[1]).toMatchObject({ records: 0, invalidRecords: 0, endOfInput: true });
    expect(finals(batches[1] as WindowBatch<Acc>)).toEqual([
      ['hourly', 0, 1],
      ['daily', 0, 1],
    ]);
  });

  it('resumes from a saved state and refuses one saved by other metrics', () => {
    const first = play([{ at: 1, chunk: at('a', [0.5, 0.6]), flush: true }], { endAt: 10, stopped: true });
    const state = first[0]?.eventTime?.state as EventTimeState;
    const resumed = play([{ at: 1, chunk: at('a', [1.1, 1.2]), flush: true }], {
      endAt: 10,
      state,
      stopped: true,
    });
    expect(finals(resumed[0] as WindowBatch<Acc>)).toEqual([['hourly', 0, 2]]);
    const changed = eventTime({
      windows: [
        tumblingWindow({ name: 'hourly', size: '1h', metrics: metrics({ n: count() }) }),
        tumblingWindow({ name: 'daily', size: '24h', metrics: perWindow }),
      ],
    });
    const { error } = playCatching([{ at: 1, chunk: at('a', [1.1]) }], {
      endAt: 10,
      state,
      eventTime: changed,
      stopped: true,
    });
    expect(error).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringMatching(/^the metrics of window "hourly" changed since the checkpoint saved/),
    });
  });
});

describe('nested windows sharing their metrics', () => {
  it('fold each record once and give what separate windows give, late records included', () => {
    const events = (): Played[] => [
      { at: 1, chunk: at('a', [1, 1, 0.2, 5.5]), flush: true },
      { at: 2, chunk: at('b', [3, 3]) },
      { at: 2, chunk: at('a', [0.5, 2.5, 6.1, 6.2]), flush: true },
      { at: 3, chunk: at('a', [0.7, 25, 26]), flush: true },
    ];
    const other = metrics({ n: count(), v: sum((r: Rec) => r.v) });
    const separate = eventTime({
      windows: [
        tumblingWindow({ name: 'hourly', size: '1h', metrics: perWindow }),
        tumblingWindow({ name: 'daily', size: '24h', metrics: other }),
      ],
    });
    const shared = play(events(), { endAt: 10 });
    const apart = play(events(), { endAt: 10, eventTime: separate });
    const view = (batches: Array<WindowBatch<Acc>>) =>
      batches.map((b) => [b.eventTime?.late, finals(b), b.eventTime?.watermark]);
    expect(view(shared)).toEqual(view(apart));
    // Records late for their hour but not their day (0.5h and 0.7h) are in the day.
    expect(shared.flatMap(finals).filter(([name]) => name === 'daily')).toEqual([
      ['daily', 0, 11],
      ['daily', 24, 2],
    ]);
    expect(shared.map((b) => b.eventTime?.late)).toEqual([
      { hourly: 0, daily: 0 },
      { hourly: 1, daily: 0 },
      { hourly: 1, daily: 0 },
      { hourly: 0, daily: 0 },
    ]);
  });
});

describe('windows folded with the batch aggregator', () => {
  it('fold each record once and give the batch what a separate aggregator gives', () => {
    const events = (): Played[] => [
      { at: 1, chunk: at('a', [1, 1, 0.2, 5.5]) },
      { at: 1, chunk: at('b', [0.1, 7]), flush: true },
      { at: 2, chunk: at('a', [0.5, 2.5, Number.NaN, 6.2]), flush: true },
    ];
    const copy = metrics({ n: count(), v: sum((r: Rec) => r.v) });
    const view = (batches: Array<WindowBatch<Acc>>) =>
      batches.map((b) => [copy.result(b.accumulator as never), b.records, b.eventTime?.late, finals(b)]);
    const shared = play(events(), { endAt: 10, aggregator: perWindow as Aggregator<Rec, unknown, unknown> });
    const apart = play(events(), { endAt: 10, aggregator: copy as Aggregator<Rec, unknown, unknown> });
    expect(view(shared)).toEqual(view(apart));
    // Every record is in its batch: late ones and one without an event time included.
    expect(shared.map((b) => copy.result(b.accumulator as never).n)).toEqual([6, 4, 0]);
  });
});

describe('event-time windows in a pipeline', () => {
  /** A sink that keeps each batch's window files as text, and fails the writes listed in `failOn`. */
  function windowSink(failOn: Set<number>) {
    const files = new Map<string, string>();
    const batches: Batch<unknown>[] = [];
    return {
      files,
      batches,
      sink: {
        async write(batch: Batch<unknown>) {
          if (failOn.delete(batch.batchId)) throw new Error('disk full');
          for (const w of batch.windows ?? [])
            files.set(`${w.name}/${w.windowStart.toISOString()}`, JSON.stringify([w, batch.batchId]));
          batches.push(batch);
        },
        describe: (id: number) => `memory:${id}`,
      },
    };
  }

  const lines = (hours: number[]) => hours.map((h) => JSON.stringify({ t: h * H, v: Math.round(h * 100) }));
  const input = [
    { values: lines([0.1, 0.2, 0.3, 1.1]) },
    { values: lines([1.2, 0.4, 2.5, 2.6]) },
    { values: lines([3.1, 3.2, 0.5]) },
  ];

  it('replays a batch that crashed before its commit with its recorded watermark, rewriting the same windows', async () => {
    const checkpoint = memoryCheckpointStore();
    const options = (sink: ReturnType<typeof windowSink>['sink']) => ({
      decode: (line: string) => JSON.parse(line) as Rec,
      metrics: spec,
      checkpoint,
      window: { maxRecords: 4 },
      eventTime: eventTime(),
      sink,
    });
    const clean = windowSink(new Set());
    await createPipeline({
      ...options(clean.sink),
      source: memorySource(input),
      checkpoint: memoryCheckpointStore(),
    }).run();

    const crashed = windowSink(new Set([1]));
    await expect(
      createPipeline({ ...options(crashed.sink), source: memorySource(input) }).run(),
    ).rejects.toThrow(/disk full/);
    expect(checkpoint.plans.map((p) => [p.batchId, p.watermark])).toEqual([
      [0, 0.3 * H],
      [1, 2.5 * H],
    ]);
    const replayed = windowSink(new Set());
    await createPipeline({ ...options(replayed.sink), source: memorySource(input) }).run();
    expect(replayed.batches.map((b) => [b.batchId, b.watermark?.getTime()])).toEqual([
      [1, 2.5 * H],
      [2, 3.1 * H],
    ]);
    expect(new Map([...crashed.files, ...replayed.files])).toEqual(clean.files);
    expect(clean.batches.map((b) => b.lateRecords)).toEqual([
      { hourly: 0, daily: 0 },
      { hourly: 0, daily: 0 },
      { hourly: 1, daily: 0 },
    ]);
    // Every record is in exactly one hour file or late for its hour.
    const inHours = [...clean.files.entries()]
      .filter(([key]) => key.startsWith('hourly/'))
      .reduce((n, [, text]) => n + (JSON.parse(text)[0].records as number), 0);
    expect(inHours + 1).toBe(11);
  });
});

describe('event-time options', () => {
  it('names the member without a codec when the pipeline is created', () => {
    const noCodec = {
      init: () => 0,
      add: (n: number) => n + 1,
      merge: (a: number, b: number) => a + b,
      result: (n: number) => n,
    };
    expect(() =>
      createPipeline({
        source: memorySource([]),
        metrics: spec,
        sink: { write: async () => {}, describe: () => 'memory' },
        eventTime: eventTime({
          windows: [
            tumblingWindow({ name: 'hourly', size: '1h', metrics: metrics({ n: count(), mine: noCodec }) }),
          ],
        }),
      }),
    ).toThrow(
      'the metrics of window "hourly" cannot be saved: member "mine" has no codec; give that aggregator a codec',
    );
  });

  it('refuses two windows with one name and a lateness that is not a duration', () => {
    const hourly = tumblingWindow({ name: 'hourly', size: '1h', metrics: perWindow });
    const make = (options: Partial<EventTimeOptions<Rec>>) => () =>
      createPipeline({
        source: memorySource([]),
        metrics: spec,
        sink: { write: async () => {}, describe: () => 'memory' },
        eventTime: eventTime(options),
      });
    expect(make({ windows: [hourly, hourly] })).toThrow('two event-time windows are named "hourly"');
    expect(make({ allowedLateness: '10 minutes' as '10m' })).toThrow(
      /allowedLateness must be a positive duration/,
    );
    expect(() => tumblingWindow({ name: 'per hour', size: '1h', metrics: perWindow })).toThrow(
      /a window name must be/,
    );
  });
});

describe('event-time windows across runs on one output', () => {
  const lines = (hours: number[]) => hours.map((h) => JSON.stringify({ t: h * H, v: 1 }));
  const run = (checkpoint: ReturnType<typeof memoryCheckpointStore>, eventTime?: EventTimeOptions<Rec>) =>
    createPipeline({
      source: memorySource([{ values: lines([0.5, 0.6, 1.5, 1.6]) }]),
      decode: (line: string) => JSON.parse(line) as Rec,
      metrics: spec,
      checkpoint,
      sink: { write: async () => {}, describe: () => 'memory' },
      window: { maxRecords: 2 },
      ...(eventTime ? { eventTime } : {}),
    }).run();

  it('refuses to start windows on an output whose committed batches were made without them', async () => {
    const checkpoint = memoryCheckpointStore();
    await run(checkpoint);
    await expect(run(checkpoint, eventTime())).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringMatching(/has 2 committed batch\(es\) made without event-time windows/),
    });
  });

  it('refuses to drop open windows, and to add or remove a window', async () => {
    const checkpoint = memoryCheckpointStore();
    const hourlyOnly = eventTime({
      windows: [tumblingWindow({ name: 'hourly', size: '1h', metrics: perWindow })],
    });
    await run(checkpoint, hourlyOnly);
    await expect(run(checkpoint)).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringMatching(/keeps event-time windows \(hourly\): without them/),
    });
    await expect(run(checkpoint, eventTime())).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('saved: hourly (1h); now: hourly (1h), daily (24h)'),
    });
    // The same windows again: accepted, and the lateness may change between runs.
    await expect(run(checkpoint, { ...hourlyOnly, allowedLateness: '5m' })).resolves.toMatchObject({
      batches: 0,
    });
  });

  it('never counts a lane idle in a batch where it delivered records, however short the timeout', () => {
    const batches = play([{ at: 5, chunk: at('a', [0.5, 0.6]), flush: true }], {
      endAt: 10,
      stopped: true,
      eventTime: eventTime({ idleTimeout: 1 }),
    });
    expect(batches[0]?.eventTime?.watermark).toBe(0.5 * H);
  });
});
